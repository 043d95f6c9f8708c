using System.Reflection;
using System.Text.Json;

namespace Onitu;

/// <summary>
/// A driver's manifest (the seed's manifest.json): the id a setup names it by, a human name and description, the
/// factory type a plugin host instantiates, and the options a service of this driver takes.
/// </summary>
/// <remarks>
/// <code>
/// {
///   "id": "local_storage",
///   "name": "Local storage",
///   "description": "Folders on a local disk.",
///   "entryType": "Onitu.Drivers.LocalStorage.LocalStorageDriverFactory",
///   "options": {
///     "root": { "name": "Root", "description": "Base directory of the folder mappings", "type": "string", "default": "." }
///   }
/// }
/// </code>
/// An option with a <c>default</c> (which may be <c>null</c>) is optional; every other option is mandatory.
/// An integer or float option may bound its value with <c>minimum</c> and <c>maximum</c> (inclusive); a string
/// option may give a <c>pattern</c> (a regular expression the whole value must match: anchor it with <c>^…$</c>),
/// <c>minLength</c> and <c>maxLength</c>. A setup's value outside them is refused before anything starts.
/// </remarks>
public sealed class DriverManifest
{
    /// <summary>Creates a manifest.</summary>
    public DriverManifest(string id, string name, string description, IReadOnlyDictionary<string, ManifestOption> options, string? entryType = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        Id = id;
        Name = name ?? id;
        Description = description ?? string.Empty;
        Options = options ?? throw new ArgumentNullException(nameof(options));
        EntryType = entryType;
    }

    /// <summary>The driver id a setup's <c>driver:</c> names, such as <c>local_storage</c>.</summary>
    public string Id { get; }

    /// <summary>The human-readable name.</summary>
    public string Name { get; }

    /// <summary>What the driver does.</summary>
    public string Description { get; }

    /// <summary>The full name of the driver's <see cref="IDriverFactory"/> type (needed for plugin packages).</summary>
    public string? EntryType { get; }

    /// <summary>The options, by the key a setup writes them under.</summary>
    public IReadOnlyDictionary<string, ManifestOption> Options { get; }

    /// <summary>Parses a manifest from JSON.</summary>
    /// <exception cref="FormatException">The JSON is not a manifest; the message names the faulty field.</exception>
    public static DriverManifest Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new FormatException($"The manifest is not valid JSON: {e.Message}", e);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new FormatException("A manifest must be a JSON object.");
            var id = RequiredString(root, "id", "manifest");
            var options = new Dictionary<string, ManifestOption>(StringComparer.Ordinal);
            if (root.TryGetProperty("options", out var optionsElement))
            {
                if (optionsElement.ValueKind != JsonValueKind.Object)
                    throw new FormatException("The manifest's 'options' must be an object.");
                foreach (var property in optionsElement.EnumerateObject())
                    options[property.Name] = ManifestOption.Parse(property.Name, property.Value);
            }
            return new DriverManifest(
                id,
                OptionalString(root, "name") ?? id,
                OptionalString(root, "description") ?? string.Empty,
                options,
                OptionalString(root, "entryType"));
        }
    }

    /// <summary>Reads a manifest embedded in a driver assembly as a resource.</summary>
    /// <exception cref="FormatException">The resource is missing or is not a manifest.</exception>
    public static DriverManifest FromEmbeddedResource(Assembly assembly, string resourceName)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        using var stream = assembly.GetManifestResourceStream(resourceName)
            ?? throw new FormatException($"The assembly '{assembly.GetName().Name}' has no embedded manifest '{resourceName}'.");
        using var reader = new StreamReader(stream);
        return Parse(reader.ReadToEnd());
    }

    internal static string RequiredString(JsonElement element, string property, string where) =>
        OptionalString(element, property) ?? throw new FormatException($"The {where} has no '{property}' string.");

    internal static string? OptionalString(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value)
            ? value.ValueKind == JsonValueKind.String ? value.GetString() : throw new FormatException($"'{property}' must be a string.")
            : null;
}

/// <summary>The type of a manifest option: the seed's integers, floats, booleans, strings and enumerates.</summary>
public enum OptionType
{
    /// <summary>A whole number.</summary>
    Integer,
    /// <summary>A number, possibly fractional.</summary>
    Float,
    /// <summary><c>true</c> or <c>false</c>.</summary>
    Boolean,
    /// <summary>Any text.</summary>
    String,
    /// <summary>One of the option's <see cref="ManifestOption.Values"/>.</summary>
    Enumerate,
}

/// <summary>One option of a driver manifest.</summary>
public sealed class ManifestOption
{
    /// <summary>Creates an option description.</summary>
    public ManifestOption(string key, OptionType type, string? name = null, string? description = null,
        IReadOnlyList<string>? values = null, bool hasDefault = false, object? defaultValue = null, bool secret = false)
    {
        Key = key;
        Type = type;
        Name = name ?? key;
        Description = description ?? string.Empty;
        Values = values ?? [];
        HasDefault = hasDefault;
        Default = defaultValue;
        IsSecret = secret;
    }

    /// <summary>The key the option is written under in a setup.</summary>
    public string Key { get; }

    /// <summary>The human-readable name.</summary>
    public string Name { get; }

    /// <summary>What the option does.</summary>
    public string Description { get; }

    /// <summary>The option's type.</summary>
    public OptionType Type { get; }

    /// <summary>The allowed values of an <see cref="OptionType.Enumerate"/> option.</summary>
    public IReadOnlyList<string> Values { get; }

    /// <summary>Whether the manifest gives a default (possibly null): if not, the option is mandatory.</summary>
    public bool HasDefault { get; }

    /// <summary>Whether a setup must give the option.</summary>
    public bool IsMandatory => !HasDefault;

    /// <summary>The default value (<see cref="string"/>, <see cref="long"/>, <see cref="double"/>, <see cref="bool"/> or null).</summary>
    public object? Default { get; }

    /// <summary>Whether the value is a secret (password, passphrase) that must never be logged or shown.</summary>
    public bool IsSecret { get; }

    /// <summary>The smallest value an integer or float option takes (inclusive), or <see langword="null"/>.</summary>
    public double? Minimum { get; init; }

    /// <summary>The largest value an integer or float option takes (inclusive), or <see langword="null"/>.</summary>
    public double? Maximum { get; init; }

    /// <summary>
    /// A regular expression a string option's value must match (JSON Schema's <c>pattern</c>: it matches anywhere
    /// unless anchored with <c>^…$</c>), or <see langword="null"/>.
    /// </summary>
    public string? Pattern { get; init; }

    /// <summary>The fewest characters a string option's value has, or <see langword="null"/>.</summary>
    public int? MinLength { get; init; }

    /// <summary>The most characters a string option's value has, or <see langword="null"/>.</summary>
    public int? MaxLength { get; init; }

    /// <summary>Whether the option bounds its value (<see cref="Minimum"/>, <see cref="Maximum"/>, <see cref="Pattern"/>, lengths).</summary>
    public bool HasConstraints => Minimum is not null || Maximum is not null || Pattern is not null || MinLength is not null || MaxLength is not null;

    internal static ManifestOption Parse(string key, JsonElement element)
    {
        var where = $"option '{key}'";
        if (element.ValueKind != JsonValueKind.Object)
            throw new FormatException($"The manifest's {where} must be an object.");
        var typeName = DriverManifest.RequiredString(element, "type", where);
        if (!Enum.TryParse<OptionType>(typeName, ignoreCase: true, out var type) || int.TryParse(typeName, out _))
            throw new FormatException($"The manifest's {where} has the unknown type '{typeName}' (integer, float, boolean, string or enumerate).");

        var values = new List<string>();
        if (element.TryGetProperty("values", out var valuesElement))
        {
            if (valuesElement.ValueKind != JsonValueKind.Array)
                throw new FormatException($"The manifest's {where} has 'values' that is not an array.");
            foreach (var v in valuesElement.EnumerateArray())
                values.Add(v.ValueKind == JsonValueKind.String ? v.GetString()! : throw new FormatException($"The manifest's {where} has a non-string value."));
        }
        if (type == OptionType.Enumerate && values.Count == 0)
            throw new FormatException($"The manifest's {where} is an enumerate without 'values'.");

        var hasDefault = element.TryGetProperty("default", out var defaultElement);
        var secret = element.TryGetProperty("secret", out var secretElement) && secretElement.ValueKind == JsonValueKind.True;
        var numeric = type is OptionType.Integer or OptionType.Float;
        var minimum = OptionalNumber(element, "minimum", where, allowed: numeric, type);
        var maximum = OptionalNumber(element, "maximum", where, allowed: numeric, type);
        if (minimum > maximum)
            throw new FormatException($"The manifest's {where} has a minimum ({minimum}) above its maximum ({maximum}).");
        var textual = type == OptionType.String;
        var pattern = element.TryGetProperty("pattern", out _) ? DriverManifest.OptionalString(element, "pattern") : null;
        if (pattern is not null)
        {
            if (!textual)
                throw new FormatException($"The manifest's {where} has a 'pattern' but is not a string option.");
            try
            {
                _ = new System.Text.RegularExpressions.Regex(pattern);
            }
            catch (ArgumentException e)
            {
                throw new FormatException($"The manifest's {where} has a 'pattern' that is not a regular expression: {e.Message}", e);
            }
        }
        var minLength = OptionalLength(element, "minLength", where, allowed: textual);
        var maxLength = OptionalLength(element, "maxLength", where, allowed: textual);
        if (minLength > maxLength)
            throw new FormatException($"The manifest's {where} has a minLength ({minLength}) above its maxLength ({maxLength}).");
        return new ManifestOption(key, type,
            DriverManifest.OptionalString(element, "name"),
            DriverManifest.OptionalString(element, "description"),
            values, hasDefault, hasDefault ? ToClr(defaultElement) : null, secret)
        {
            Minimum = minimum,
            Maximum = maximum,
            Pattern = pattern,
            MinLength = minLength,
            MaxLength = maxLength,
        };
    }

    private static double? OptionalNumber(JsonElement element, string property, string where, bool allowed, OptionType type)
    {
        if (!element.TryGetProperty(property, out var value))
            return null;
        if (!allowed)
            throw new FormatException($"The manifest's {where} has a '{property}' but is not an integer or float option.");
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var number) || !double.IsFinite(number))
            throw new FormatException($"The manifest's {where} has a '{property}' that is not a number.");
        if (type == OptionType.Integer && number != Math.Floor(number))
            throw new FormatException($"The manifest's {where} is an integer option with a fractional '{property}'.");
        return number;
    }

    private static int? OptionalLength(JsonElement element, string property, string where, bool allowed)
    {
        if (!element.TryGetProperty(property, out var value))
            return null;
        if (!allowed)
            throw new FormatException($"The manifest's {where} has a '{property}' but is not a string option.");
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var length) || length < 0)
            throw new FormatException($"The manifest's {where} has a '{property}' that is not a whole number of characters.");
        return length;
    }

    private static object? ToClr(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null => null,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number when value.TryGetInt64(out var l) => l,
        JsonValueKind.Number => value.GetDouble(),
        _ => throw new FormatException("An option default must be null, a boolean, a number or a string."),
    };
}
