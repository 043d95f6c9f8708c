using System.Collections.ObjectModel;
using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Onitu.Setup;

/// <summary>Reads YAML nodes as .NET values with the YAML 1.2 core schema (which JSON documents also satisfy).</summary>
internal static partial class YamlValues
{
    private const string TagPrefix = "tag:yaml.org,2002:";

    /// <summary>The 1-based line where a node starts.</summary>
    public static int LineOf(YamlNode node) => (int)node.Start.Line;

    /// <summary>Whether the node is a YAML null: absent value, <c>~</c>, <c>null</c> or <c>!!null</c>.</summary>
    public static bool IsNull(YamlNode? node) => node is null || (node is YamlScalarNode scalar && Resolve(scalar) is null);

    /// <summary>Whether a scalar's type comes from its spelling (plain and untagged) rather than from quotes or a tag.</summary>
    public static bool IsPlainImplicit(YamlScalarNode scalar) =>
        scalar.Style is ScalarStyle.Plain or ScalarStyle.Any
        && (scalar.Tag.IsEmpty || (scalar.Tag.IsNonSpecific && scalar.Tag.Value == "?")); // an explicit "!" means string

    /// <summary>
    /// Converts a node: scalars to <see cref="long"/>, <see cref="double"/>, <see cref="bool"/>, <see langword="null"/> or
    /// <see cref="string"/>; sequences to read-only lists; mappings to read-only dictionaries keyed by the key's text.
    /// </summary>
    public static object? ToObject(YamlNode node) => node switch
    {
        YamlScalarNode scalar => Resolve(scalar),
        YamlSequenceNode sequence => sequence.Children.Select(ToObject).ToList().AsReadOnly(),
        YamlMappingNode mapping => ToDictionary(mapping),
        _ => null,
    };

    private static ReadOnlyDictionary<string, object?> ToDictionary(YamlMappingNode mapping)
    {
        var values = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in mapping.Children)
        {
            var name = key is YamlScalarNode scalar ? scalar.Value ?? string.Empty : key.ToString();
            if (!name.StartsWith(DuplicateKeyCheckingParser.RenamedKeyPrefix, StringComparison.Ordinal))
                values[name] = ToObject(value);
        }
        return new ReadOnlyDictionary<string, object?>(values);
    }

    /// <summary>Resolves a scalar by its tag, else by its spelling when plain, else as a string.</summary>
    public static object? Resolve(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? string.Empty;
        if (!scalar.Tag.IsEmpty && !scalar.Tag.IsNonSpecific)
        {
            return scalar.Tag.Value switch
            {
                TagPrefix + "null" => null,
                TagPrefix + "bool" => ResolvePlain(text) as bool? ?? (object)text,
                TagPrefix + "int" => ResolvePlain(text) is long l ? l : text,
                TagPrefix + "float" => ResolvePlain(text) switch { long l => (double)l, double d => d, _ => text },
                _ => text,
            };
        }
        return IsPlainImplicit(scalar) ? ResolvePlain(text) : text;
    }

    private static object? ResolvePlain(string text)
    {
        switch (text)
        {
            case "" or "~" or "null" or "Null" or "NULL":
                return null;
            case "true" or "True" or "TRUE":
                return true;
            case "false" or "False" or "FALSE":
                return false;
            case ".inf" or ".Inf" or ".INF" or "+.inf" or "+.Inf" or "+.INF":
                return double.PositiveInfinity;
            case "-.inf" or "-.Inf" or "-.INF":
                return double.NegativeInfinity;
            case ".nan" or ".NaN" or ".NAN":
                return double.NaN;
        }
        if (DecimalInteger().IsMatch(text))
        {
            return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
                ? value
                : double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture); // beyond long: YAML still calls it a number
        }
        if (text.StartsWith("0x", StringComparison.Ordinal) && text.Length > 2
            && long.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var hex) && hex >= 0)
            return hex;
        if (text.StartsWith("0o", StringComparison.Ordinal) && text.Length > 2 && text.AsSpan(2).IndexOfAnyExceptInRange('0', '7') < 0)
        {
            try
            {
                return Convert.ToInt64(text[2..], 8);
            }
            catch (OverflowException)
            {
                return text;
            }
        }
        if (Float().IsMatch(text))
            return double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        return text;
    }

    [GeneratedRegex("^[-+]?[0-9]+$", RegexOptions.CultureInvariant)]
    private static partial Regex DecimalInteger();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$", RegexOptions.CultureInvariant)]
    private static partial Regex Float();
}
