using System.Reflection;
using Newtonsoft.Json;

namespace Onitu.TestDrivers.EchoA;

/// <summary>The echo_a test driver: reports the Newtonsoft.Json version its load context resolved.</summary>
public sealed class EchoADriverFactory : IDriverFactory
{
    /// <inheritdoc />
    public DriverManifest Manifest { get; } = DriverManifest.FromEmbeddedResource(typeof(EchoADriverFactory).Assembly, "manifest.json");

    /// <summary>The informational version of the Newtonsoft.Json this driver uses (after using it once).</summary>
    public string NewtonsoftVersion
    {
        get
        {
            _ = JsonConvert.SerializeObject(new { echo = "a" });
            var assembly = typeof(JsonConvert).Assembly;
            return assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
                ?? assembly.GetName().Version!.ToString();
        }
    }

    /// <inheritdoc />
    public IDriver Create(IPlug plug) => throw new NotSupportedException("echo drivers do not sync.");
}
