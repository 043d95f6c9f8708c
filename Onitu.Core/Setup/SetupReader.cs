using System.Collections.ObjectModel;
using Onitu.Rules;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Onitu.Setup;

/// <summary>Turns the YAML tree of a setup into an <see cref="OnituSetup"/>, collecting every problem on the way.</summary>
internal sealed class SetupReader(string? file, CancellationToken cancellationToken = default)
{
    private static readonly string[] TopLevelKeys = ["name", "folders", "services"];
    private static readonly string[] ServiceKeys = ["driver", "options", "folders"];
    private static readonly string[] RuleKeys = ["mode", "type", "min-size", "max-size", "blacklist", "whitelist", "max-delete"];
    private static readonly string[] ServiceFolderKeys = ["path", .. RuleKeys];

    private readonly List<SetupError> _errors = [];
    private readonly OrderedDictionary<string, FolderRules> _folders = new(StringComparer.Ordinal);
    private readonly List<ServiceSetup> _services = [];
    private bool _foldersDeclared;
    private string? _setupName;

    public OnituSetup Read(string text, string? baseDirectory)
    {
        if (Load(text) is not { } root)
            throw new SetupException(SortedErrors());
        ReadRoot(root);
        if (_errors.Count > 0 || _setupName is null)
        {
            // What could still be read goes with the problems, so that the services' options are checked in the same pass.
            throw new SetupException(SortedErrors())
            {
                Partial = new PartialSetup(file, OnituSetup.ResolveBaseDirectory(file, baseDirectory), _services.AsReadOnly()),
            };
        }
        return new OnituSetup(_setupName, _folders, _services, file, baseDirectory);
    }

    private List<SetupError> SortedErrors() =>
        [.. _errors.Select((e, i) => (e, i)).OrderBy(p => p.e.Line ?? 0).ThenBy(p => p.i).Select(p => p.e)];

    private YamlMappingNode? Load(string text)
    {
        var parser = new DuplicateKeyCheckingParser(new Parser(new StringReader(text)), cancellationToken);
        var stream = new YamlStream();
        try
        {
            stream.Load(parser);
        }
        catch (YamlException e)
        {
            ReportDuplicates(parser);
            var (line, column) = ((int)e.Start.Line, (int)e.Start.Column);
            if (e.Message.Contains("tab", StringComparison.OrdinalIgnoreCase) && FindTabIndentation(text) is { } tab)
                (line, column) = tab; // YamlDotNet reports where the enclosing mapping starts
            Error(line, null, $"YAML syntax error at line {line}, column {column}: {e.Message}");
            return null;
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException or OverflowException)
        {
            // Some malformed documents (an unclosed '[') make the scanner fail without a position; the last event read is close.
            ReportDuplicates(parser);
            Error(parser.LastLine, null, $"YAML syntax error near line {parser.LastLine}: the document is malformed there (an unclosed '[', '{{' or quote?)");
            return null;
        }
        ReportDuplicates(parser);

        if (stream.Documents.Count == 0 || YamlValues.IsNull(stream.Documents[0].RootNode))
        {
            Error(null, null, "the setup is empty; it needs 'name', 'folders' and 'services'");
            return null;
        }
        if (stream.Documents.Count > 1)
            Error(YamlValues.LineOf(stream.Documents[1].RootNode), null, $"a setup holds one YAML document, this one has {stream.Documents.Count}");
        if (stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            Error(YamlValues.LineOf(stream.Documents[0].RootNode), null, "the setup must be a mapping with 'name', 'folders' and 'services'");
            return null;
        }
        return root;
    }

    private static (int Line, int Column)? FindTabIndentation(string text)
    {
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var indentation = lines[i].Length - lines[i].TrimStart(' ', '\t').Length;
            var tab = lines[i].IndexOf('\t', 0, indentation);
            if (tab >= 0)
                return (i + 1, tab + 1);
        }
        return null;
    }

    private void ReportDuplicates(DuplicateKeyCheckingParser parser)
    {
        foreach (var duplicate in parser.Duplicates)
            Error(duplicate.Line, duplicate.Path, $"duplicate key '{duplicate.Key}' (first written at line {duplicate.FirstLine})");
    }

    private void ReadRoot(YamlMappingNode root)
    {
        var nameSeen = false;
        YamlNode? foldersNode = null, servicesNode = null;
        int foldersLine = 0, servicesLine = 0;
        foreach (var (key, keyNode, value) in Entries(root, string.Empty))
        {
            switch (key)
            {
                case "name":
                    nameSeen = true;
                    if (YamlValues.IsNull(value) || value is YamlScalarNode { Value: var blank } && string.IsNullOrWhiteSpace(blank))
                        Error(YamlValues.LineOf(keyNode), "name", "the setup's name is empty");
                    else if (value is YamlScalarNode scalar)
                        _setupName = scalar.Value;
                    else
                        Error(YamlValues.LineOf(value), "name", "the setup's name must be a text");
                    break;
                case "folders":
                    foldersNode = value;
                    foldersLine = YamlValues.LineOf(keyNode);
                    break;
                case "services":
                    servicesNode = value;
                    servicesLine = YamlValues.LineOf(keyNode);
                    break;
                default:
                    Error(YamlValues.LineOf(keyNode), key, $"unknown key '{key}'{NameSuggestion.Hint(key, TopLevelKeys)}; a setup has 'name', 'folders' and 'services'");
                    break;
            }
        }

        if (!nameSeen)
            Error(YamlValues.LineOf(root), "name", "missing 'name': give the setup a name");

        if (foldersNode is null)
            Error(YamlValues.LineOf(root), "folders", "missing 'folders': declare the folders to synchronise");
        else
            ReadFolders(foldersNode, foldersLine);

        if (servicesNode is null)
            Error(YamlValues.LineOf(root), "services", "missing 'services': configure at least one service");
        else
            ReadServices(servicesNode, servicesLine);
    }

    private void ReadFolders(YamlNode node, int keyLine)
    {
        if (YamlValues.IsNull(node))
        {
            Error(keyLine, "folders", "no folder is declared; declare at least one");
            return;
        }
        if (node is not YamlMappingNode mapping)
        {
            Error(YamlValues.LineOf(node), "folders", "'folders' must be a mapping of folder names to folder options");
            return;
        }
        _foldersDeclared = true;
        if (mapping.Children.Count == 0)
            Error(keyLine, "folders", "no folder is declared; declare at least one");
        foreach (var (name, keyNode, value) in Entries(mapping, "folders"))
        {
            var path = "folders." + name;
            CheckFolderName(name, YamlValues.LineOf(keyNode), path);
            var rules = ReadRules(value, path, YamlValues.LineOf(keyNode), serviceLevel: false, out _);
            _folders[name] = rules;
        }
    }

    private void CheckFolderName(string name, int line, string path)
    {
        if (name.Length == 0)
            Error(line, path, "a folder name cannot be empty");
        else if (name.IndexOfAny(['/', '\\', ':']) >= 0 || name.Any(char.IsControl))
            Error(line, path, $"the folder name '{name}' contains '/', '\\', ':' or a control character; a folder name is a plain name (its path on each service is given under the service)");
    }

    private void ReadServices(YamlNode node, int keyLine)
    {
        if (YamlValues.IsNull(node))
        {
            Error(keyLine, "services", "no service is configured; configure at least one");
            return;
        }
        if (node is not YamlMappingNode mapping)
        {
            Error(YamlValues.LineOf(node), "services", "'services' must be a mapping of service names to services");
            return;
        }
        if (mapping.Children.Count == 0)
            Error(keyLine, "services", "no service is configured; configure at least one");
        foreach (var (name, keyNode, value) in Entries(mapping, "services"))
        {
            if (name.Length == 0)
            {
                Error(YamlValues.LineOf(keyNode), "services", "a service name cannot be empty");
                continue;
            }
            ReadService(name, YamlValues.LineOf(keyNode), value);
        }
    }

    private void ReadService(string name, int line, YamlNode node)
    {
        var path = "services." + name;
        if (node is not YamlMappingNode mapping)
        {
            Error(YamlValues.IsNull(node) ? line : YamlValues.LineOf(node), path,
                "a service must be a mapping with 'driver', 'options' and 'folders'");
            return;
        }

        string? driver = null;
        int driverLine = 0, optionsLine = 0;
        var optionsReadable = true;
        var options = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
        var optionLines = new Dictionary<string, int>(StringComparer.Ordinal);
        var optionTexts = new Dictionary<string, string>(StringComparer.Ordinal);
        var folders = new List<ServiceFolderSetup>();
        var foldersSeen = false;

        foreach (var (key, keyNode, value) in Entries(mapping, path))
        {
            var keyPath = path + "." + key;
            switch (key)
            {
                case "driver":
                    driverLine = YamlValues.LineOf(keyNode);
                    if (value is YamlScalarNode scalar && !YamlValues.IsNull(scalar) && !string.IsNullOrWhiteSpace(scalar.Value))
                        driver = scalar.Value.Trim();
                    else
                        Error(YamlValues.IsNull(value) ? driverLine : YamlValues.LineOf(value), keyPath, "'driver' must name a driver, such as 'local_storage'");
                    break;
                case "options":
                    optionsLine = YamlValues.LineOf(keyNode);
                    if (YamlValues.IsNull(value))
                        break;
                    if (value is not YamlMappingNode optionsMapping)
                    {
                        Error(YamlValues.LineOf(value), keyPath, "'options' must be a mapping of driver option names to values");
                        optionsReadable = false;
                        break;
                    }
                    var errorsBefore = _errors.Count;
                    foreach (var (option, optionKey, optionValue) in Entries(optionsMapping, keyPath))
                    {
                        options[option] = YamlValues.ToObject(optionValue);
                        optionLines[option] = YamlValues.LineOf(optionKey);
                        if (optionValue is YamlScalarNode text && YamlValues.IsPlainImplicit(text) && options[option] is not (string or null))
                            optionTexts[option] = text.Value ?? string.Empty;
                    }
                    optionsReadable &= _errors.Count == errorsBefore; // a key that is not a name: what is read is not all
                    break;
                case "folders":
                    foldersSeen = true;
                    ReadServiceFolders(name, keyPath, YamlValues.LineOf(keyNode), value, folders);
                    break;
                default:
                    var hint = NameSuggestion.Nearest(key, ServiceKeys) is { } nearest ? $"did you mean '{nearest}'?"
                        : RuleKeys.Contains(key) ? $"folder options of a service go under 'folders.<folder>', such as '{path}.folders.<folder>.{key}'"
                        : $"driver options go under 'options', such as '{path}.options.{key}'";
                    Error(YamlValues.LineOf(keyNode), keyPath, $"unknown key '{key}' ({hint}); a service has 'driver', 'options' and 'folders'");
                    break;
            }
        }

        if (driverLine == 0)
            Error(line, path, "missing 'driver': name the driver this service uses, such as 'local_storage'");
        if (!foldersSeen)
            Error(line, path, "the service maps no folder; add 'folders' with at least one folder declared under the top-level 'folders'");

        // Without folders the setup has an error already; the service is kept for checking its options all the same.
        if (driver is not null)
        {
            _services.Add(new ServiceSetup(name, driver, new ReadOnlyDictionary<string, object?>(options), folders.AsReadOnly(), line,
                new ReadOnlyDictionary<string, int>(optionLines), partial: folders.Count == 0)
            {
                DriverLine = driverLine,
                OptionsLine = optionsLine,
                OptionTexts = optionTexts,
                OptionsReadable = optionsReadable,
            });
        }
    }

    private void ReadServiceFolders(string service, string path, int keyLine, YamlNode node, List<ServiceFolderSetup> folders)
    {
        if (YamlValues.IsNull(node) || node is YamlMappingNode { Children.Count: 0 })
        {
            Error(keyLine, path, "the service maps no folder; list at least one folder declared under the top-level 'folders'");
            return;
        }
        if (node is not YamlMappingNode mapping)
        {
            Error(YamlValues.LineOf(node), path, "'folders' of a service must be a mapping of folder names to a path or to a mapping with 'path' and folder options");
            return;
        }

        foreach (var (folder, keyNode, value) in Entries(mapping, path))
        {
            var line = YamlValues.LineOf(keyNode);
            var folderPath = path + "." + folder;
            var declared = _folders.TryGetValue(folder, out var folderRules);
            if (_foldersDeclared && !declared)
            {
                Error(line, folderPath, $"the service '{service}' maps the folder '{folder}' that is not declared under 'folders'"
                    + NameSuggestion.Hint(folder, _folders.Keys));
            }

            string? storePath;
            var rules = FolderRules.Empty;
            switch (value)
            {
                case var _ when YamlValues.IsNull(value):
                    storePath = folder;
                    break;
                case YamlScalarNode scalar:
                    storePath = scalar.Value;
                    break;
                case YamlMappingNode:
                    rules = ReadRules(value, folderPath, line, serviceLevel: true, out storePath);
                    storePath ??= folder;
                    break;
                default:
                    Error(YamlValues.LineOf(value), folderPath, "a folder mapping is a path, or a mapping with 'path' and folder options");
                    continue;
            }
            if (string.IsNullOrWhiteSpace(storePath))
            {
                Error(YamlValues.LineOf(value), folderPath, "the folder's path on the service cannot be empty");
                continue;
            }

            if (declared && folderRules!.MergeWith(rules) is { MinSize: { } min, MaxSize: { } max } && min > max
                && !(rules.MinSize > rules.MaxSize) && !(folderRules.MinSize > folderRules.MaxSize))
            {
                Error(line, folderPath, $"with the folder's own options, min-size ({min} bytes) is greater than max-size ({max} bytes): no file can pass");
            }

            if (folder.Length > 0)
                folders.Add(new ServiceFolderSetup(folder, storePath, rules, line));
        }
    }

    /// <summary>Reads folder options (and, for a service's folder, its <c>path</c>).</summary>
    private FolderRules ReadRules(YamlNode node, string path, int keyLine, bool serviceLevel, out string? storePath)
    {
        storePath = null;
        if (YamlValues.IsNull(node))
            return FolderRules.Empty;
        if (node is not YamlMappingNode mapping)
        {
            Error(YamlValues.LineOf(node), path, "folder options must be a mapping (mode, type, min-size, max-size, blacklist, whitelist, max-delete)");
            return FolderRules.Empty;
        }

        var rules = FolderRules.Empty;
        int maxSizeLine = keyLine;
        foreach (var (key, keyNode, value) in Entries(mapping, path))
        {
            var keyPath = path + "." + key;
            var valueLine = YamlValues.IsNull(value) ? YamlValues.LineOf(keyNode) : YamlValues.LineOf(value);
            switch (key)
            {
                case "path" when serviceLevel:
                    if (value is YamlScalarNode pathScalar && !YamlValues.IsNull(pathScalar))
                        storePath = pathScalar.Value;
                    else if (!YamlValues.IsNull(value))
                        Error(valueLine, keyPath, "'path' must be a text: where the folder lives on this service");
                    break;
                case "mode":
                    if (YamlValues.IsNull(value))
                        break;
                    if (value is YamlScalarNode modeScalar && AccessModes.TryParse(modeScalar.Value, out var mode))
                        rules = rules with { Mode = mode };
                    else
                        Error(valueLine, keyPath, $"the mode must be 'r' (read), 'w' (write) or 'rw' (both), not {Describe(value)}");
                    break;
                case "type":
                    var types = ReadStringList(value, keyPath, "media types such as 'image/png', 'audio/*' or 'audio'");
                    foreach (var type in types)
                    {
                        if (!MediaTypePattern.TryValidate(type, out var problem))
                            Error(valueLine, keyPath, $"'{type}' is not a media type: {problem}");
                    }
                    rules = rules with { Types = types };
                    break;
                case "min-size" or "max-size":
                    if (key == "max-size")
                        maxSizeLine = valueLine;
                    if (YamlValues.IsNull(value))
                        break;
                    if (value is not YamlScalarNode sizeScalar)
                        Error(valueLine, keyPath, $"a size must be a number with an optional unit (3, 1.5k, 10MiB), not {Describe(value)}");
                    else if (!SizeParser.TryParse(sizeScalar.Value, out var bytes, out var sizeProblem))
                        Error(valueLine, keyPath, $"'{sizeScalar.Value}' is not a size: {sizeProblem} (examples: 3, 1.5k, 10MiB, 2 GB)");
                    else
                        rules = key == "min-size" ? rules with { MinSize = bytes } : rules with { MaxSize = bytes };
                    break;
                case "max-delete":
                    if (YamlValues.IsNull(value))
                        break;
                    string? limitProblem = null;
                    if (value is YamlScalarNode limitScalar && DeletionLimit.TryParse(limitScalar.Value, out var limit, out limitProblem))
                        rules = rules with { MaxDelete = limit };
                    else
                        Error(valueLine, keyPath, $"'max-delete' must be a share such as 50% or a number of files such as 100, not {Describe(value)}" +
                            (limitProblem is null ? "" : $" ({limitProblem})"));
                    break;
                case "blacklist" or "whitelist":
                    var patterns = ReadStringList(value, keyPath, "path patterns such as '*.tmp' or 'build/'");
                    foreach (var pattern in patterns)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        if (!Glob.TryValidate(pattern, out var problem))
                            Error(valueLine, keyPath, $"the pattern '{pattern}' is not valid: {problem}");
                    }
                    rules = key == "blacklist" ? rules with { Blacklist = patterns } : rules with { Whitelist = patterns };
                    break;
                default:
                    var known = serviceLevel ? ServiceFolderKeys : RuleKeys;
                    Error(YamlValues.LineOf(keyNode), keyPath,
                        $"unknown folder option '{key}'{NameSuggestion.Hint(key, known)}; known options: {string.Join(", ", known)}");
                    break;
            }
        }

        if (rules.MinSize > rules.MaxSize)
            Error(maxSizeLine, path + ".max-size", $"min-size ({rules.MinSize} bytes) is greater than max-size ({rules.MaxSize} bytes): no file can pass");
        return rules;
    }

    private IReadOnlyList<string> ReadStringList(YamlNode node, string keyPath, string what)
    {
        switch (node)
        {
            case var _ when YamlValues.IsNull(node):
                return [];
            case YamlScalarNode scalar:
                return [scalar.Value ?? string.Empty];
            case YamlSequenceNode sequence:
                var items = new List<string>(sequence.Children.Count);
                foreach (var item in sequence.Children)
                {
                    if (item is YamlScalarNode itemScalar && !YamlValues.IsNull(itemScalar))
                        items.Add(itemScalar.Value ?? string.Empty);
                    else
                        Error(YamlValues.LineOf(item), keyPath, $"expected a string or a list of strings ({what}), but an item is {Describe(item)}");
                }
                return items.AsReadOnly();
            default:
                Error(YamlValues.LineOf(node), keyPath, $"expected a string or a list of strings ({what}), not {Describe(node)}");
                return [];
        }
    }

    /// <summary>Enumerates the entries of a mapping whose keys are scalars, skipping renamed duplicates (already reported).</summary>
    private IEnumerable<(string Key, YamlNode KeyNode, YamlNode Value)> Entries(YamlMappingNode mapping, string path)
    {
        foreach (var (keyNode, value) in mapping.Children)
        {
            if (keyNode is not YamlScalarNode scalar)
            {
                Error(YamlValues.LineOf(keyNode), path.Length == 0 ? null : path, "a key must be a plain name, not a list or a mapping");
                continue;
            }
            var key = scalar.Value ?? string.Empty;
            if (key.StartsWith(DuplicateKeyCheckingParser.RenamedKeyPrefix, StringComparison.Ordinal))
                continue;
            yield return (key, keyNode, value);
        }
    }

    private static string Describe(YamlNode node) => node switch
    {
        YamlSequenceNode => "a list",
        YamlMappingNode => "a mapping",
        _ when YamlValues.IsNull(node) => "null",
        YamlScalarNode scalar => $"'{scalar.Value}'",
        _ => "this",
    };

    private void Error(int? line, string? key, string message) =>
        _errors.Add(new SetupError(file, line is > 0 ? line : null, string.IsNullOrEmpty(key) ? null : key, message));
}
