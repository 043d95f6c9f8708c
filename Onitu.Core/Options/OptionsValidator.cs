using System.Collections;
using System.Collections.ObjectModel;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using NJsonSchema;
using NJsonSchema.Validation;
using Onitu.Setup;

namespace Onitu.Options;

/// <summary>
/// Validates a service's options against its driver's manifest (through the manifest's JSON Schema, see
/// the manifest schemas) and, when they are valid, types them and fills in the defaults.
/// </summary>
/// <remarks>
/// Every problem is reported, one message per option, naming the service and the option and saying what was
/// expected. The value of an option the manifest marks secret never appears in a message. A plain YAML scalar given
/// to a string or enumerate option is taken as written (<c>version: 1.10</c> is <c>"1.10"</c>, not 1.1), and an
/// integer is accepted for a float option. Thread-safe; schemas are built once per manifest.
/// </remarks>
public sealed class OptionsValidator
{
    private static readonly JsonSerializerOptions JsonOptions = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private ConditionalWeakTable<DriverManifest, JsonSchema>? _schemas;

    /// <summary>
    /// Checks a driver manifest (the JSON of <c>onitu/manifest.json</c>) against the manifest schema; returns one
    /// message per problem, empty when the manifest is valid.
    /// </summary>
    public static IReadOnlyList<string> ValidateManifest(string manifestJson) => ManifestSchemas.ValidateManifestJson(manifestJson);

    /// <summary>Validates <paramref name="options"/> of the service <paramref name="serviceName"/> against <paramref name="manifest"/>.</summary>
    /// <param name="serviceName">The service, for the messages.</param>
    /// <param name="manifest">The manifest of the service's driver.</param>
    /// <param name="options">The options as the setup gives them (see <see cref="ServiceSetup.Options"/>).</param>
    public OptionsValidationResult Validate(string serviceName, DriverManifest manifest, IReadOnlyDictionary<string, object?> options)
    {
        ArgumentNullException.ThrowIfNull(serviceName);
        var (driverOptions, problems) = ValidateCore(manifest, options, texts: null);
        return new OptionsValidationResult(driverOptions, [.. problems.Select(p => $"service '{serviceName}': {p.Message}")]);
    }

    /// <summary>Validates and returns the problems by option, messages without the service's name.</summary>
    internal (DriverOptions? Options, IReadOnlyList<OptionProblem> Problems) ValidateCore(
        DriverManifest manifest, IReadOnlyDictionary<string, object?> options, IReadOnlyDictionary<string, string>? texts)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(options);

        var input = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in options)
            input[key] = manifest.Options.TryGetValue(key, out var option) ? AsWritten(key, value, option, texts) : value;

        List<OptionProblem> problems = IsPlainlyValid(manifest, input) ? [] : SchemaProblems(manifest, input);
        if (problems.Count > 0)
            return (null, problems);

        var values = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, option) in manifest.Options)
        {
            var given = input.TryGetValue(key, out var value);
            if (!given)
                value = option.Default;
            if (TryConvert(value, option.Type, out var typed))
                values[key] = typed;
            else if (given) // the schema let through what the type cannot hold (an integer beyond long)
                problems.Add(new OptionProblem(key, $"option '{key}' must be {Expected(option)}{Got(option, value)}"));
            else
                problems.Add(new OptionProblem(key, $"the driver's manifest gives option '{key}' a default that is not {Expected(option)}: fix the driver"));
        }
        if (problems.Count > 0)
            return (null, problems);

        var secrets = manifest.Options.Values.Where(o => o.IsSecret).Select(o => o.Key).ToHashSet(StringComparer.Ordinal);
        return (new DriverOptions(new ReadOnlyDictionary<string, object?>(values), secrets), problems);
    }

    /// <summary>
    /// What a driver's own checks can still look at when the manifest refused some options of a service: the options
    /// it accepted, typed, and every other one (<paramref name="refused"/>, or not given) at its default; a mandatory
    /// option refused or missing is absent.
    /// </summary>
    internal static DriverOptions AcceptedOptions(DriverManifest manifest, IReadOnlyDictionary<string, object?> options,
        IReadOnlyDictionary<string, string>? texts, IReadOnlySet<string> refused)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(refused);
        var values = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, option) in manifest.Options)
        {
            if (!refused.Contains(key) && options.TryGetValue(key, out var value) && TryConvert(AsWritten(key, value, option, texts), option.Type, out var typed))
                values[key] = typed;
            else if (option.HasDefault && TryConvert(option.Default, option.Type, out var fallback))
                values[key] = fallback;
        }
        var secrets = manifest.Options.Values.Where(o => o.IsSecret).Select(o => o.Key).ToHashSet(StringComparer.Ordinal);
        return new DriverOptions(new ReadOnlyDictionary<string, object?>(values), secrets);
    }

    /// <summary>The problems the manifest's JSON Schema finds, one per option.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)] // NJsonSchema, Newtonsoft.Json and System.Text.Json load only when called
    internal List<OptionProblem> SchemaProblems(DriverManifest manifest, IReadOnlyDictionary<string, object?> input)
    {
        var problems = new List<OptionProblem>();
        var reported = new HashSet<string>(StringComparer.Ordinal);
        var schemas = LazyInitializer.EnsureInitialized(ref _schemas, () => new ConditionalWeakTable<DriverManifest, JsonSchema>());
        var schema = schemas.GetValue(manifest, ManifestSchemas.ToJsonSchema);
        foreach (var error in schema.Validate(ToToken(input)))
        {
            var key = error.Property ?? error.Path?.TrimStart('#', '/') ?? string.Empty;
            if (reported.Add(key))
                problems.Add(new OptionProblem(key, Translate(error, key, manifest, input)));
        }
        return problems;
    }

    /// <summary>
    /// Whether the options plainly satisfy the manifest's JSON Schema: every key known, every mandatory option given,
    /// every value of its option's type and within its bounds. Only what is certain is accepted here, so that a setup
    /// as most are written needs no JSON Schema at all (loading and building it was about a third of a no-op
    /// <c>onitu sync</c>); anything else (a pattern, a length, an unusual value) goes to the schema, which also words the
    /// problems. A false answer says nothing about validity.
    /// </summary>
    internal static bool IsPlainlyValid(DriverManifest manifest, IReadOnlyDictionary<string, object?> input)
    {
        foreach (var (key, value) in input)
        {
            if (!manifest.Options.TryGetValue(key, out var option) || !IsPlainlyValid(option, value))
                return false;
        }
        foreach (var (key, option) in manifest.Options)
        {
            if (option.IsMandatory && !input.ContainsKey(key))
                return false;
        }
        return true;
    }

    private static bool IsPlainlyValid(ManifestOption option, object? value)
    {
        if (value is null)
            return option.HasDefault && option.Default is null;
        if (option.Pattern is not null || option.MinLength is not null || option.MaxLength is not null)
            return false;
        switch (option.Type)
        {
            case OptionType.Boolean:
                return value is bool;
            case OptionType.String:
                return value is string;
            case OptionType.Enumerate:
                return value is string text && option.Values.Contains(text, StringComparer.Ordinal);
            case OptionType.Integer when value is long or int or short or sbyte or byte or uint or ushort:
                return IsPlainlyWithin(option, Convert.ToDecimal(value, CultureInfo.InvariantCulture));
            case OptionType.Float when value is long or int or short or sbyte or byte or uint or ushort:
                return IsPlainlyWithin(option, Convert.ToDecimal(value, CultureInfo.InvariantCulture));
            case OptionType.Float when value is double number && double.IsFinite(number) && Math.Abs(number) < 1e28:
                return IsPlainlyWithin(option, (decimal)number);
            default:
                return false;
        }
    }

    // The schema compares as decimals (see ManifestSchemas.ToJsonSchema).
    private static bool IsPlainlyWithin(ManifestOption option, decimal value) =>
        (option.Minimum is not { } low || (Math.Abs(low) < 1e28 && value >= (decimal)low))
        && (option.Maximum is not { } high || (Math.Abs(high) < 1e28 && value <= (decimal)high));

    /// <summary>A string or enumerate option gets the text written rather than what YAML made of it.</summary>
    private static object? AsWritten(string key, object? value, ManifestOption option, IReadOnlyDictionary<string, string>? texts)
    {
        if (option.Type is not (OptionType.String or OptionType.Enumerate) || value is null or string || !IsScalar(value))
            return value;
        if (texts is not null && texts.TryGetValue(key, out var text))
            return text;
        return value is bool b ? (b ? "true" : "false") : Convert.ToString(value, CultureInfo.InvariantCulture);
    }

    private static bool IsScalar(object value) =>
        value is bool or long or int or short or sbyte or byte or ulong or uint or ushort or double or float or decimal;

    private static JToken ToToken(IReadOnlyDictionary<string, object?> input)
    {
        var json = new JsonObject();
        foreach (var (key, value) in input)
            json[key] = ToJsonNode(value);
        // NJsonSchema 10.7 validates Newtonsoft tokens; read them without turning date-like strings into dates.
        using var reader = new JsonTextReader(new StringReader(json.ToJsonString(JsonOptions)))
        {
            DateParseHandling = DateParseHandling.None,
            FloatParseHandling = FloatParseHandling.Double,
        };
        return JToken.ReadFrom(reader);
    }

    private static JsonNode? ToJsonNode(object? value) => value switch
    {
        null => null,
        string s => JsonValue.Create(s),
        bool b => JsonValue.Create(b),
        double d => JsonValue.Create(d),
        float f => JsonValue.Create((double)f),
        decimal m => JsonValue.Create(m),
        ulong u => u <= long.MaxValue ? JsonValue.Create((long)u) : JsonValue.Create((double)u),
        long or int or short or sbyte or byte or uint or ushort => JsonValue.Create(Convert.ToInt64(value, CultureInfo.InvariantCulture)),
        IReadOnlyDictionary<string, object?> map => new JsonObject(map.Select(p => KeyValuePair.Create(p.Key, ToJsonNode(p.Value)))),
        IEnumerable items => new JsonArray([.. items.Cast<object?>().Select(ToJsonNode)]),
        _ => JsonValue.Create(Convert.ToString(value, CultureInfo.InvariantCulture)),
    };

    private static string Translate(ValidationError error, string key, DriverManifest manifest, IReadOnlyDictionary<string, object?> input)
    {
        manifest.Options.TryGetValue(key, out var option);
        switch (error.Kind)
        {
            case ValidationErrorKind.PropertyRequired when option is not null:
                var label = option.Name != key && option.Name.Length > 0 ? option.Name : option.Description;
                return $"missing mandatory option '{key}'{(label.Length > 0 ? $" ({label})" : string.Empty)}";
            case ValidationErrorKind.NoAdditionalPropertiesAllowed:
                var known = manifest.Options.Count == 0
                    ? $"the driver '{manifest.Id}' takes no options"
                    : "known options: " + string.Join(", ", manifest.Options.Keys);
                var nearest = NameSuggestion.Nearest(key, manifest.Options.Keys);
                return $"unknown option '{key}' ({(nearest is null ? string.Empty : $"did you mean '{nearest}'?; ")}{known})";
            case var _ when option is not null:
                input.TryGetValue(key, out var value);
                // A value of the right type outside the manifest's bounds (a nullable option's error says only
                // that no type matched): say which bound.
                if (value is not null && TryConvert(value, option.Type, out var typed) && OptionConstraints.Violation(option, typed) is { } rule)
                    return $"option '{key}' {rule}{Got(option, value)}";
                return option.Type == OptionType.Enumerate
                    ? $"option '{key}' must be {Expected(option)}{(option.IsSecret ? Got(option, value) : $"; got {Show(value)}")}"
                    : $"option '{key}' must be {Expected(option)}{Got(option, value)}";
            default:
                return $"option '{key}' is not valid ({error.Kind})";
        }
    }

    private static string Expected(ManifestOption option)
    {
        var orNull = option.HasDefault && option.Default is null ? " (or null)" : string.Empty;
        return option.Type switch
        {
            OptionType.Integer => "an integer" + orNull,
            OptionType.Float => "a number" + orNull,
            OptionType.Boolean => "true or false" + orNull,
            OptionType.String => "a string" + orNull,
            _ => "one of: " + string.Join(", ", option.Values) + orNull,
        };
    }

    private static string Got(ManifestOption option, object? value) =>
        option.IsSecret
            ? $", but the value given is {Kind(value)} (not shown: the option is secret)"
            : $", got {Show(value)}";

    private static string Kind(object? value) => value switch
    {
        null => "null",
        string => "a string",
        bool => "a boolean",
        double or float or decimal => "a number",
        _ when IsScalar(value) => "an integer",
        IReadOnlyDictionary<string, object?> => "a mapping",
        IEnumerable => "a list",
        _ => "of another type",
    };

    private static string Show(object? value) => value switch
    {
        null => "null",
        string s => "\"" + (s.Length > 80 ? s[..77] + "..." : s) + "\"",
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f when IsScalar(value) => f.ToString(null, CultureInfo.InvariantCulture),
        _ => Kind(value),
    };

    private static bool TryConvert(object? value, OptionType type, out object? typed)
    {
        typed = null;
        if (value is null)
            return true;
        switch (type)
        {
            case OptionType.Integer:
                if (value is double or float or decimal)
                {
                    var d = Convert.ToDouble(value, CultureInfo.InvariantCulture);
                    if (d != Math.Floor(d) || d < long.MinValue || d >= long.MaxValue)
                        return false;
                    typed = (long)d;
                    return true;
                }
                if (value is ulong big && big > long.MaxValue)
                    return false;
                if (!IsScalar(value) || value is bool)
                    return false;
                typed = Convert.ToInt64(value, CultureInfo.InvariantCulture);
                return true;
            case OptionType.Float:
                if (!IsScalar(value) || value is bool)
                    return false;
                typed = Convert.ToDouble(value, CultureInfo.InvariantCulture);
                return true;
            case OptionType.Boolean:
                typed = value as bool?;
                return value is bool;
            default:
                typed = value as string;
                return value is string;
        }
    }
}

/// <summary>A problem with one option (or with the options as a whole when <see cref="Option"/> is null).</summary>
internal sealed record OptionProblem(string? Option, string Message)
{
    /// <summary>The folder whose mapping on the service is at fault, when the driver's own check names one.</summary>
    public string? Folder { get; init; }
}

/// <summary>The outcome of <see cref="OptionsValidator.Validate"/>.</summary>
public sealed class OptionsValidationResult
{
    /// <summary>Creates a result.</summary>
    public OptionsValidationResult(DriverOptions? options, IReadOnlyList<string> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        Options = errors.Count == 0 ? options : null;
        Errors = errors;
    }

    /// <summary>The typed options with defaults filled in, or <see langword="null"/> when there are errors.</summary>
    public DriverOptions? Options { get; }

    /// <summary>Every problem, each naming the service and the option; empty when the options are valid.</summary>
    public IReadOnlyList<string> Errors { get; }

    /// <summary>Whether the options are valid.</summary>
    public bool IsValid => Errors.Count == 0 && Options is not null;
}
