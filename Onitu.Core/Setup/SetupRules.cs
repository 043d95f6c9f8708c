using Onitu.Rules;

namespace Onitu.Setup;

/// <summary>Derives a setup that keeps the services of another and changes only its rules.</summary>
public static class SetupRules
{
    /// <summary>
    /// Returns a copy of <paramref name="setup"/> with the folder rules of <paramref name="folders"/> and, for each
    /// service and folder it maps, the service's rules of <paramref name="serviceRules"/> (rules not given are kept).
    /// Services, drivers, options and folder paths stay as they are, so the result can be given to
    /// <see cref="SyncEngine.ReloadAsync(OnituSetup, CancellationToken)"/>.
    /// </summary>
    /// <param name="setup">The setup to derive from.</param>
    /// <param name="folders">The folders with their folder-wide rules; a folder the setup maps must stay.</param>
    /// <param name="serviceRules">Per service, per folder: the service's rules for that folder.</param>
    /// <exception cref="ArgumentException">A mapped folder is missing from <paramref name="folders"/>.</exception>
    public static OnituSetup WithRules(this OnituSetup setup, IEnumerable<KeyValuePair<string, FolderRules>> folders,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, FolderRules>> serviceRules)
    {
        ArgumentNullException.ThrowIfNull(setup);
        ArgumentNullException.ThrowIfNull(folders);
        ArgumentNullException.ThrowIfNull(serviceRules);
        var services = setup.Services.Select(service =>
        {
            var rules = serviceRules.GetValueOrDefault(service.Name);
            var mapped = service.Folders
                .Select(f => new ServiceFolderSetup(f.Folder, f.Path, rules?.GetValueOrDefault(f.Folder) ?? f.Rules, f.Line))
                .ToList();
            return new ServiceSetup(service.Name, service.Driver, service.Options, mapped, service.Line, service.OptionLines)
            {
                DriverLine = service.DriverLine,
                OptionsLine = service.OptionsLine,
                OptionTexts = service.OptionTexts,
            };
        });
        return new OnituSetup(setup.Name, folders, services, setup.SourceFile, setup.BaseDirectory);
    }
}
