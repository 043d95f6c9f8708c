using System.Reflection;
using Newtonsoft.Json;

namespace Onitu.TestDrivers;

/// <summary>
/// The echo test drivers (echo_a, echo_b: this one source built into two plugin packages, each with its own
/// Newtonsoft.Json): reports the Newtonsoft.Json version its load context resolved. The same type name in two
/// plugins also shows that each plugin's types stay in its own load context.
/// </summary>
public sealed class EchoDriverFactory : IDriverFactory
{
    /// <inheritdoc />
    public DriverManifest Manifest { get; } = DriverManifest.FromEmbeddedResource(typeof(EchoDriverFactory).Assembly, "manifest.json");

    /// <summary>The informational version of the Newtonsoft.Json this driver uses (after using it once).</summary>
    public string NewtonsoftVersion
    {
        get
        {
            _ = JsonConvert.SerializeObject(new { echo = Manifest.Id });
            var assembly = typeof(JsonConvert).Assembly;
            return assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
                ?? assembly.GetName().Version!.ToString();
        }
    }

    /// <inheritdoc />
    public IDriver Create(IPlug plug) => throw new NotSupportedException("echo drivers do not sync.");
}
