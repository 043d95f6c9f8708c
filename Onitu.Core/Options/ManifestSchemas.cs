using System.Globalization;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using NJsonSchema;
using NJsonSchema.Validation;
using Onitu.Setup;

namespace Onitu.Options;

/// <summary>
/// JSON Schemas around driver manifests: the schema of a driver's options (built from its manifest, used to validate a
/// service's options) and the schema of manifests themselves (to validate a manifest a driver author writes).
/// </summary>
internal static class ManifestSchemas
{
    private static readonly Lazy<JsonSchema> MetaSchema = new(LoadMetaSchema, LazyThreadSafetyMode.ExecutionAndPublication);

    // NJsonSchema reads a schema only through a task, but the meta-schema references nothing outside itself: the
    // task has finished when it is returned (no I/O, no await that yields), so taking its result blocks nothing.
    // Should a later NJsonSchema yield here, this fails loudly instead of blocking a thread.
    private static JsonSchema LoadMetaSchema()
    {
        var loading = JsonSchema.FromJsonAsync(ManifestMetaSchema.Json);
        if (!loading.IsCompleted)
            throw new InvalidOperationException("Loading the manifest meta-schema did not complete synchronously; Onitu must be updated for this NJsonSchema.");
#pragma warning disable VSTHRD002 // the task has completed: see above
        return loading.GetAwaiter().GetResult();
#pragma warning restore VSTHRD002
    }

    private static readonly string[] OptionTypeNames = ["integer", "float", "boolean", "string", "enumerate"];

    /// <summary>The JSON Schema (draft 4) every driver manifest must satisfy, as JSON text (for editors and docs).</summary>
    public static string ManifestSchemaJson => ManifestMetaSchema.Json;

    /// <summary>
    /// Builds the JSON Schema of a service's options from a driver manifest: an object without additional properties,
    /// one property per option (<c>integer</c> → integer, <c>float</c> → number, <c>boolean</c> → boolean,
    /// <c>string</c> → string, <c>enumerate</c> → string restricted to the option's values); an option whose default
    /// is <c>null</c> also accepts null; an option without a default is required.
    /// </summary>
    public static JsonSchema ToJsonSchema(DriverManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var schema = new JsonSchema
        {
            Type = JsonObjectType.Object,
            AllowAdditionalProperties = false,
            Title = manifest.Name,
            Description = manifest.Description,
        };
        foreach (var (key, option) in manifest.Options)
        {
            var nullable = option.HasDefault && option.Default is null;
            var property = new JsonSchemaProperty
            {
                Type = ToJsonType(option.Type) | (nullable ? JsonObjectType.Null : JsonObjectType.None),
                Title = option.Name,
                Description = option.Description,
            };
            if (option.HasDefault)
                property.Default = option.Default;
            if (option.Type == OptionType.Enumerate)
            {
                foreach (var value in option.Values)
                    property.Enumeration.Add(value);
                if (nullable)
                    property.Enumeration.Add(null);
            }
            if (option.Minimum is { } minimum)
                property.Minimum = (decimal)minimum;
            if (option.Maximum is { } maximum)
                property.Maximum = (decimal)maximum;
            property.Pattern = option.Pattern;
            property.MinLength = option.MinLength;
            property.MaxLength = option.MaxLength;
            if (option.IsSecret)
                property.ExtensionData = new Dictionary<string, object?> { ["x-secret"] = true };
            schema.Properties[key] = property;
            if (option.IsMandatory)
                schema.RequiredProperties.Add(key);
        }
        return schema;
    }

    /// <summary>
    /// Validates a manifest document against the schema of manifests (<see cref="ManifestSchemaJson"/>), then checks
    /// what a schema cannot say (a default of the option's type, an enumerate's default among its values).
    /// </summary>
    /// <returns>Every problem found, each starting with its JSON path (<c>$.options.port.default: …</c>); empty when the manifest is valid.</returns>
    public static IReadOnlyList<string> ValidateManifestJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        var errors = new List<string>();
        if (!CheckSyntax(json, errors))
            return errors;

        JToken document;
        try
        {
            using var reader = NewReader(json);
            document = JToken.ReadFrom(reader, new JsonLoadSettings { CommentHandling = CommentHandling.Ignore, LineInfoHandling = LineInfoHandling.Load });
        }
        catch (JsonReaderException e)
        {
            return [$"$: the manifest is not valid JSON: {e.Message}"];
        }

        foreach (var error in MetaSchema.Value.Validate(document))
        {
            if (TranslateMetaError(error, document) is { } message)
                errors.Add(message);
        }
        if (document is JObject root && root["options"] is JObject options)
            CheckDefaults(options, errors);

        if (errors.Count == 0)
        {
            try
            {
                var manifest = DriverManifest.Parse(json);
                foreach (var option in manifest.Options.Values)
                {
                    if (option.Default is not null && OptionConstraints.Violation(option, option.Default) is { } violation)
                        errors.Add($"$.options.{option.Key}.default: the default {violation}");
                }
            }
            catch (FormatException e)
            {
                errors.Add("$: " + e.Message);
            }
        }
        return errors;
    }

    internal static JsonObjectType ToJsonType(OptionType type) => type switch
    {
        OptionType.Integer => JsonObjectType.Integer,
        OptionType.Float => JsonObjectType.Number,
        OptionType.Boolean => JsonObjectType.Boolean,
        _ => JsonObjectType.String,
    };

    private static JsonTextReader NewReader(string json) =>
        new(new StringReader(json)) { DateParseHandling = DateParseHandling.None, FloatParseHandling = FloatParseHandling.Double };

    /// <summary>Reads the whole document once: JSON syntax errors and repeated properties (which JSON parsers silently merge).</summary>
    private static bool CheckSyntax(string json, List<string> errors)
    {
        using var reader = NewReader(json);
        var objects = new Stack<HashSet<string>>();
        try
        {
            if (!reader.Read())
            {
                errors.Add("$: the manifest is empty");
                return false;
            }
            do
            {
                switch (reader.TokenType)
                {
                    case JsonToken.StartObject:
                        objects.Push(new HashSet<string>(StringComparer.Ordinal));
                        break;
                    case JsonToken.EndObject:
                        objects.Pop();
                        break;
                    case JsonToken.PropertyName:
                        var name = (string)reader.Value!;
                        if (!objects.Peek().Add(name))
                            errors.Add($"{JsonPath(reader.Path)}: the property '{name}' is written twice (line {reader.LineNumber})");
                        break;
                }
            }
            while (reader.Read());
        }
        catch (JsonReaderException e)
        {
            errors.Add($"$: the manifest is not valid JSON: {e.Message}");
            return false;
        }
        return errors.Count == 0;
    }

    private static string JsonPath(string newtonsoftPath) =>
        newtonsoftPath.Length == 0 ? "$" : newtonsoftPath.StartsWith('[') ? "$" + newtonsoftPath : "$." + newtonsoftPath;

    private static string? TranslateMetaError(ValidationError error, JToken document)
    {
        var path = error.Path is null or "#" or "#/" ? "$" : "$." + error.Path.TrimStart('#', '/');
        var token = Locate(document, path);
        var line = error.HasLineInfo ? $" (line {error.LineNumber})" : string.Empty;
        var parent = error.Property is { } p && path.EndsWith("." + p, StringComparison.Ordinal) ? path[..^(p.Length + 1)] : path;
        var isOption = parent.StartsWith("$.options.", StringComparison.Ordinal);

        switch (error.Kind)
        {
            case ValidationErrorKind.PropertyRequired when Locate(document, parent) is not JObject:
                return null; // not even an object: reported as such
            case ValidationErrorKind.PropertyRequired:
                var what = (isOption, error.Property) switch
                {
                    (false, "id") => " (the id a setup's 'driver:' names, such as 'local_storage')",
                    (true, "type") => " (integer, float, boolean, string or enumerate)",
                    (true, "values") => " (an enumerate option lists its values)",
                    _ => string.Empty,
                };
                return $"{parent}: missing required property '{error.Property}'{what}{line}";
            case ValidationErrorKind.PatternMismatch when error.Property == "id":
                return $"{path}: '{token}' is not a valid id: use lowercase letters, digits, '_' and '-', starting with a letter{line}";
            case ValidationErrorKind.NotInEnumeration when isOption && error.Property == "type":
                return $"{path}: '{token}' is not an option type; use integer, float, boolean, string or enumerate{line}";
            case ValidationErrorKind.NotOneOf when isOption:
                var type = (Locate(document, path) as JObject)?["type"];
                if (type is not { Type: JTokenType.String } || !OptionTypeNames.Contains((string?)type))
                    return null; // the type itself is missing or wrong: reported on its own
                return (string?)type == "enumerate"
                    ? $"{path}: an enumerate option needs 'values', the list of its possible values{line}"
                    : $"{path}: 'values' only belongs to enumerate options, this one is '{type}'{line}";
            case ValidationErrorKind.NoAdditionalPropertiesAllowed:
                string[] known = isOption
                    ? ["name", "description", "type", "values", "default", "secret", "minimum", "maximum", "pattern", "minLength", "maxLength"]
                    : ["id", "name", "description", "entryType", "options"];
                return $"{path}: unknown property '{error.Property}'{NameSuggestion.Hint(error.Property ?? string.Empty, known)}; "
                    + $"known properties: {string.Join(", ", known)}{line}";
            case ValidationErrorKind.StringExpected:
                return $"{path}: must be a string{line}";
            case ValidationErrorKind.BooleanExpected:
                return $"{path}: must be true or false{line}";
            case ValidationErrorKind.ObjectExpected:
                return $"{path}: must be an object{line}";
            case ValidationErrorKind.ArrayExpected:
                return $"{path}: must be a list{line}";
            case ValidationErrorKind.NumberTooSmall:
                return $"{path}: must not be negative{line}";
            case ValidationErrorKind.StringTooShort:
                return $"{path}: must not be empty{line}";
            case ValidationErrorKind.TooFewItems:
                return $"{path}: must list at least one value{line}";
            case ValidationErrorKind.ItemsNotUnique:
                return $"{path}: lists a value twice{line}";
            case ValidationErrorKind.NoTypeValidates when error.Property == "default":
                return $"{path}: a default must be a number, a boolean, a string or null{line}";
            case ValidationErrorKind.ArrayItemNotValid when error is ChildSchemaValidationError child:
                var first = child.Errors.SelectMany(e => e.Value).FirstOrDefault();
                return first is null ? $"{path}: an item is not valid{line}" : TranslateMetaError(first, document);
            case ValidationErrorKind.AdditionalPropertiesNotValid when error is ChildSchemaValidationError child:
                var nested = child.Errors.SelectMany(e => e.Value).Select(e => TranslateMetaError(e, document)).Where(m => m is not null);
                return string.Join(Environment.NewLine, nested) is { Length: > 0 } joined ? joined : $"{path}: is not valid{line}";
            default:
                return $"{path}: {error.Kind}{line}";
        }
    }

    /// <summary>Finds the token at a <c>$.a.b[0]</c> path, matching property names that contain dots too.</summary>
    private static JToken? Locate(JToken document, string path)
    {
        var rest = path == "$" ? string.Empty : path[2..];
        var current = document;
        while (rest.Length > 0 && current is not null)
        {
            if (rest[0] == '[' && current is JArray array && rest.IndexOf(']') is var close and > 0
                && int.TryParse(rest.AsSpan(1, close - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            {
                current = index < array.Count ? array[index] : null;
                rest = rest[(close + 1)..].TrimStart('.');
                continue;
            }
            if (current is not JObject obj)
                return null;
            var match = obj.Properties()
                .Where(p => rest == p.Name || rest.StartsWith(p.Name + ".", StringComparison.Ordinal) || rest.StartsWith(p.Name + "[", StringComparison.Ordinal))
                .MaxBy(p => p.Name.Length);
            if (match is null)
                return null;
            current = match.Value;
            rest = rest[match.Name.Length..].TrimStart('.');
        }
        return current;
    }

    /// <summary>The checks a JSON Schema cannot express: a default of the option's own type, an enumerate's default among its values.</summary>
    private static void CheckDefaults(JObject options, List<string> errors)
    {
        foreach (var property in options.Properties())
        {
            if (property.Value is not JObject option || option["type"] is not { Type: JTokenType.String } typeToken
                || !option.TryGetValue("default", StringComparison.Ordinal, out var value)
                || value.Type is JTokenType.Null or JTokenType.Array or JTokenType.Object) // not a scalar: the schema says so
                continue;
            var path = $"$.options.{property.Name}.default";
            var line = ((IJsonLineInfo)value).HasLineInfo() ? $" (line {((IJsonLineInfo)value).LineNumber})" : string.Empty;
            var shown = value.ToString(Formatting.None);
            switch ((string?)typeToken)
            {
                case "integer" when value.Type != JTokenType.Integer:
                    errors.Add($"{path}: the default {shown} is not an integer, the option's type{line}");
                    break;
                case "float" when value.Type is not (JTokenType.Integer or JTokenType.Float):
                    errors.Add($"{path}: the default {shown} is not a number, the option's type{line}");
                    break;
                case "boolean" when value.Type != JTokenType.Boolean:
                    errors.Add($"{path}: the default {shown} is not a boolean, the option's type{line}");
                    break;
                case "string" when value.Type != JTokenType.String:
                    errors.Add($"{path}: the default {shown} is not a string, the option's type{line}");
                    break;
                case "enumerate":
                    var values = option["values"] as JArray;
                    if (value.Type != JTokenType.String)
                        errors.Add($"{path}: the default {shown} is not a string, as an enumerate's values are{line}");
                    else if (values is not null && !values.Any(v => v.Type == JTokenType.String && (string?)v == (string?)value))
                        errors.Add($"{path}: the default {shown} is not one of the values: {string.Join(", ", values.Select(v => v.ToString()))}{line}");
                    break;
            }
        }
    }
}
