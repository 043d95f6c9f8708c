using System.Collections.ObjectModel;
using Onitu.Setup;

namespace Onitu.Options;

/// <summary>
/// Checks a loaded setup against the installed drivers: every service names a known driver and its options satisfy
/// that driver's manifest. Run it before anything starts: it reports every problem of every service at once.
/// </summary>
public static class SetupValidator
{
    private static readonly OptionsValidator Validator = new();

    /// <summary>Validates every service of <paramref name="setup"/>.</summary>
    /// <param name="setup">The setup.</param>
    /// <param name="findDriver">Returns the manifest of a driver id, or <see langword="null"/> when no such driver is installed.</param>
    /// <param name="knownDrivers">The installed driver ids, to list in the message about an unknown driver.</param>
    /// <param name="optionsByService">The typed options (defaults filled in) of every service that is valid, by service name.</param>
    /// <returns>Every problem, with the setup file, the line and the key (<c>services.laptop.options.port</c>); empty when the setup is valid.</returns>
    public static IReadOnlyList<SetupError> Validate(OnituSetup setup, Func<string, DriverManifest?> findDriver,
        IEnumerable<string> knownDrivers, out IReadOnlyDictionary<string, DriverOptions> optionsByService)
    {
        ArgumentNullException.ThrowIfNull(findDriver);
        return Validate(setup, findDriver, _ => null, knownDrivers, out optionsByService);
    }

    /// <summary>
    /// Validates every service of <paramref name="setup"/> against its driver's manifest, then, for the services
    /// whose options passed, asks a factory that implements <see cref="IDriverOptionsValidator"/> what its manifest
    /// cannot say (a file that must exist, balanced quotes, two folders mapped to one place: reported at the folder
    /// mapping's line and key, <c>services.laptop.folders.music</c>).
    /// </summary>
    /// <param name="setup">The setup.</param>
    /// <param name="drivers">The installed drivers.</param>
    /// <param name="optionsByService">The typed options (defaults filled in) of every service that is valid, by service name.</param>
    /// <returns>Every problem, with the setup file, the line and the key; empty when the setup is valid.</returns>
    public static IReadOnlyList<SetupError> Validate(OnituSetup setup, Drivers.DriverCatalog drivers,
        out IReadOnlyDictionary<string, DriverOptions> optionsByService)
    {
        ArgumentNullException.ThrowIfNull(drivers);
        return Validate(setup, id => drivers.Find(id)?.Manifest, id => drivers.Find(id) as IDriverOptionsValidator, drivers.Ids, out optionsByService);
    }

    private static IReadOnlyList<SetupError> Validate(OnituSetup setup, Func<string, DriverManifest?> findDriver,
        Func<string, IDriverOptionsValidator?> findChecks, IEnumerable<string> knownDrivers, out IReadOnlyDictionary<string, DriverOptions> optionsByService)
    {
        ArgumentNullException.ThrowIfNull(setup);
        ArgumentNullException.ThrowIfNull(knownDrivers);
        var known = knownDrivers.ToList();
        var errors = new List<SetupError>();
        var options = new Dictionary<string, DriverOptions>(StringComparer.Ordinal);

        foreach (var service in setup.Services)
        {
            var path = "services." + service.Name;
            var manifest = findDriver(service.Driver);
            if (manifest is null)
            {
                var list = known.Count == 0 ? "no driver is installed" : "known drivers: " + string.Join(", ", known);
                errors.Add(new SetupError(setup.SourceFile, LineOr(service.DriverLine, service.Line), path + ".driver",
                    $"the service '{service.Name}' uses the unknown driver '{service.Driver}'{NameSuggestion.Hint(service.Driver, known)}; {list}"));
                continue;
            }

            var (validated, problems) = Validator.ValidateCore(manifest, service.Options, service.OptionTexts);
            if (validated is not null && findChecks(service.Driver) is { } checks)
            {
                problems = DriverChecks(checks, validated, setup.BaseDirectory, service.Folders);
                if (problems.Count > 0)
                    validated = null;
            }
            foreach (var problem in problems)
            {
                if (problem.Folder is { } folder && service.Folders.FirstOrDefault(f => f.Folder == folder) is { } mapping)
                {
                    errors.Add(new SetupError(setup.SourceFile, LineOr(mapping.Line, service.Line), $"{path}.folders.{folder}", problem.Message));
                    continue;
                }
                var given = problem.Option is not null && service.Options.ContainsKey(problem.Option);
                var line = given && service.OptionLines.TryGetValue(problem.Option!, out var optionLine)
                    ? optionLine
                    : LineOr(service.OptionsLine, service.Line);
                var key = given ? $"{path}.options.{problem.Option}" : path + ".options";
                errors.Add(new SetupError(setup.SourceFile, line, key, problem.Message)); // the key names the service
            }
            if (validated is not null)
                options[service.Name] = validated;
        }

        optionsByService = new ReadOnlyDictionary<string, DriverOptions>(options);
        return errors.AsReadOnly();
    }

    /// <summary>Validates every service of <paramref name="setup"/> against the given driver manifests.</summary>
    /// <inheritdoc cref="Validate(OnituSetup, Func{string, DriverManifest?}, IEnumerable{string}, out IReadOnlyDictionary{string, DriverOptions})"/>
    public static IReadOnlyList<SetupError> Validate(OnituSetup setup, IEnumerable<DriverManifest> drivers,
        out IReadOnlyDictionary<string, DriverOptions> optionsByService)
    {
        ArgumentNullException.ThrowIfNull(drivers);
        var byId = new Dictionary<string, DriverManifest>(StringComparer.Ordinal);
        foreach (var manifest in drivers)
            byId.TryAdd(manifest.Id, manifest);
        return Validate(setup, id => byId.GetValueOrDefault(id), byId.Keys.Order(StringComparer.Ordinal), out optionsByService);
    }

    // What the driver's own check says, phrased like the manifest's problems; a check that throws is a problem too.
    private static List<OptionProblem> DriverChecks(IDriverOptionsValidator checks, DriverOptions options, string baseDirectory,
        IReadOnlyList<ServiceFolderSetup> folders)
    {
        var problems = new List<OptionProblem>();
        try
        {
            var mappings = folders.Select(f => new FolderMapping(f.Folder, f.Path)).ToList();
            foreach (var problem in checks.ValidateOptions(options, baseDirectory, mappings) ?? [])
            {
                if (problem.Folder is { } folder && mappings.Exists(m => m.Name == folder))
                {
                    problems.Add(new OptionProblem(null, problem.Message) { Folder = folder });
                    continue;
                }
                var option = problem.Option is { } key && options.ContainsKey(key) ? key : null;
                problems.Add(new OptionProblem(option, option is null ? problem.Message : $"option '{option}' {problem.Message}"));
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            problems.Add(new OptionProblem(null, $"the driver's check of its options failed: {e.Message}"));
        }
        return problems;
    }

    private static int? LineOr(int line, int fallback) => line > 0 ? line : fallback > 0 ? fallback : null;
}
