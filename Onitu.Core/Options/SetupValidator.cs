using System.Collections.ObjectModel;
using Onitu.Setup;

namespace Onitu.Options;

/// <summary>
/// Checks a loaded setup against the installed drivers: every service names a known driver and its options satisfy
/// that driver's manifest. Run it before anything starts: it reports every problem of every service at once, in the
/// order of the file; for a setup that failed to load, <see cref="Validate(SetupException, Drivers.DriverCatalog)"/>
/// adds these problems to the loader's.
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

    /// <summary>
    /// Every problem of a setup that failed to load: the loader's, together with what checking the services it could
    /// still read finds — an unknown driver, options against the driver's manifest and the driver's own checks, as
    /// <see cref="Validate(OnituSetup, Drivers.DriverCatalog, out IReadOnlyDictionary{string, DriverOptions})"/> does —
    /// so that a broken folder rule does not hide a wrong option. A service whose driver or options could not be read
    /// is not checked further; nothing is checked after an error that kept the text from being read as a setup (a YAML
    /// syntax error, a missing file).
    /// </summary>
    /// <param name="loadFailure">What <see cref="SetupLoader"/> threw.</param>
    /// <param name="drivers">The installed drivers.</param>
    /// <returns>Every problem, in the order of the file (those without a line first).</returns>
    public static IReadOnlyList<SetupError> Validate(SetupException loadFailure, Drivers.DriverCatalog drivers)
    {
        ArgumentNullException.ThrowIfNull(loadFailure);
        ArgumentNullException.ThrowIfNull(drivers);
        if (loadFailure.Partial is not { } partial)
            return loadFailure.Errors;
        var problems = Check(partial.Services, partial.SourceFile, partial.BaseDirectory, id => drivers.Find(id)?.Manifest,
            id => drivers.Find(id) as IDriverOptionsValidator, drivers.Ids, new Dictionary<string, DriverOptions>(StringComparer.Ordinal));
        return InFileOrder(loadFailure.Errors.Concat(problems));
    }

    private static IReadOnlyList<SetupError> Validate(OnituSetup setup, Func<string, DriverManifest?> findDriver,
        Func<string, IDriverOptionsValidator?> findChecks, IEnumerable<string> knownDrivers, out IReadOnlyDictionary<string, DriverOptions> optionsByService)
    {
        ArgumentNullException.ThrowIfNull(setup);
        ArgumentNullException.ThrowIfNull(knownDrivers);
        var options = new Dictionary<string, DriverOptions>(StringComparer.Ordinal);
        var errors = Check(setup.Services, setup.SourceFile, setup.BaseDirectory, findDriver, findChecks, knownDrivers, options);
        optionsByService = new ReadOnlyDictionary<string, DriverOptions>(options);
        return InFileOrder(errors);
    }

    private static List<SetupError> Check(IReadOnlyList<ServiceSetup> services, string? sourceFile, string baseDirectory,
        Func<string, DriverManifest?> findDriver, Func<string, IDriverOptionsValidator?> findChecks, IEnumerable<string> knownDrivers,
        Dictionary<string, DriverOptions> options)
    {
        var known = knownDrivers.ToList();
        var errors = new List<SetupError>();
        foreach (var service in services)
        {
            var path = "services." + service.Name;
            var manifest = findDriver(service.Driver);
            if (manifest is null)
            {
                var list = known.Count == 0 ? "no driver is installed" : "known drivers: " + string.Join(", ", known);
                errors.Add(new SetupError(sourceFile, LineOr(service.DriverLine, service.Line), path + ".driver",
                    $"the service '{service.Name}' uses the unknown driver '{service.Driver}'{NameSuggestion.Hint(service.Driver, known)}; {list}"));
                continue;
            }
            if (!service.OptionsReadable)
                continue; // the loader said why; checking what it could read would only report what follows from that

            var (validated, problems) = Validator.ValidateCore(manifest, service.Options, service.OptionTexts);
            if (findChecks(service.Driver) is { } checks)
            {
                if (validated is not null)
                {
                    problems = DriverChecks(checks, validated, baseDirectory, service.Folders);
                    if (problems.Count > 0)
                        validated = null;
                }
                else
                {
                    // Some options were refused: the driver still checks the others (a missing key file beside a port out
                    // of range), with the refused ones at their defaults; only what it says of those others is its own.
                    var refused = problems.Select(p => p.Option).OfType<string>().ToHashSet(StringComparer.Ordinal);
                    var accepted = OptionsValidator.AcceptedOptions(manifest, service.Options, service.OptionTexts, refused);
                    problems = [.. problems, .. DriverChecks(checks, accepted, baseDirectory, service.Folders)
                        .Where(p => p.Option is { } option && service.Options.ContainsKey(option) && !refused.Contains(option))];
                }
            }
            foreach (var problem in problems)
            {
                if (problem.Folder is { } folder && service.Folders.FirstOrDefault(f => f.Folder == folder) is { } mapping)
                {
                    errors.Add(new SetupError(sourceFile, LineOr(mapping.Line, service.Line), $"{path}.folders.{folder}", problem.Message));
                    continue;
                }
                var given = problem.Option is not null && service.Options.ContainsKey(problem.Option);
                var line = given && service.OptionLines.TryGetValue(problem.Option!, out var optionLine)
                    ? optionLine
                    : LineOr(service.OptionsLine, service.Line);
                var key = given ? $"{path}.options.{problem.Option}" : path + ".options";
                errors.Add(new SetupError(sourceFile, line, key, problem.Message)); // the key names the service
            }
            if (validated is not null)
                options[service.Name] = validated;
        }
        return errors;
    }

    // The order of the file: by line, stable (problems of one line in the order found), those without a line first.
    private static ReadOnlyCollection<SetupError> InFileOrder(IEnumerable<SetupError> errors) =>
        errors.Select((e, i) => (e, i)).OrderBy(p => p.e.Line ?? 0).ThenBy(p => p.i).Select(p => p.e).ToList().AsReadOnly();

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
