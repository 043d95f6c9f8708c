using Onitu.Drivers.LocalStorage;

namespace Onitu.Core.Tests.Engine;

/// <summary>
/// The local_storage driver's manifest under another id and entry type: how a test driver wrapping the real local
/// driver (to gauge, hold or reorder its calls) declares itself, with the same options.
/// </summary>
internal static class LocalStorageManifest
{
    public static DriverManifest Renamed(string id, Type factory)
    {
        using var stream = typeof(LocalStorageDriverFactory).Assembly.GetManifestResourceStream(LocalStorageDriverFactory.ManifestResourceName)!;
        using var reader = new StreamReader(stream);
        return DriverManifest.Parse(reader.ReadToEnd()
            .Replace("\"local_storage\"", $"\"{id}\"", StringComparison.Ordinal)
            .Replace("\"entryType\": \"Onitu.Drivers.LocalStorage.LocalStorageDriverFactory\"", $"\"entryType\": \"{factory.FullName}\"", StringComparison.Ordinal));
    }
}
