using System.Reflection;
using Newtonsoft.Json;

namespace Onitu.TestDrivers.EchoB;

/// <summary>The echo_b test driver: reports the Newtonsoft.Json version its load context resolved.</summary>
public sealed class EchoBDriverFactory : IDriverFactory
{
    /// <inheritdoc />
    public DriverManifest Manifest { get; } = DriverManifest.FromEmbeddedResource(typeof(EchoBDriverFactory).Assembly, "manifest.json");

    /// <summary>The informational version of the Newtonsoft.Json this driver uses (after using it once).</summary>
    public string NewtonsoftVersion
    {
        get
        {
            _ = JsonConvert.SerializeObject(new { echo = "b" });
            var assembly = typeof(JsonConvert).Assembly;
            return assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
                ?? assembly.GetName().Version!.ToString();
        }
    }

    /// <inheritdoc />
    public IDriver Create(IPlug plug) => throw new NotSupportedException("echo drivers do not sync.");
}
