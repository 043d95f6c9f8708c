using System.Collections;
using System.Globalization;

namespace Onitu;

/// <summary>
/// A service's options after validation against its driver's manifest: every option of the manifest is present
/// (defaults filled in), values are <see cref="string"/>, <see cref="long"/>, <see cref="double"/>,
/// <see cref="bool"/> or <see langword="null"/>. <see cref="ToString"/> masks options the manifest marks secret.
/// </summary>
public sealed class DriverOptions : IReadOnlyDictionary<string, object?>
{
    private readonly IReadOnlyDictionary<string, object?> _values;
    private readonly IReadOnlySet<string> _secrets;

    /// <summary>Creates options from validated values.</summary>
    /// <param name="values">The option values by option key.</param>
    /// <param name="secrets">The keys whose values must never be shown.</param>
    public DriverOptions(IReadOnlyDictionary<string, object?> values, IReadOnlySet<string>? secrets = null)
    {
        _values = values ?? throw new ArgumentNullException(nameof(values));
        _secrets = secrets ?? new HashSet<string>();
    }

    /// <summary>Options with no value at all.</summary>
    public static DriverOptions Empty { get; } = new(new Dictionary<string, object?>());

    /// <summary>Returns a string option, or <see langword="null"/> when it is null or absent.</summary>
    public string? GetString(string key) => _values.TryGetValue(key, out var v) ? v switch
    {
        null => null,
        string s => s,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString(),
    } : null;

    /// <summary>Returns a string option that must have a value.</summary>
    /// <exception cref="DriverException">The option is null or absent.</exception>
    public string GetRequiredString(string key) =>
        GetString(key) ?? throw new DriverException($"The option '{key}' is required.");

    /// <summary>Returns an integer option, or <paramref name="fallback"/> when it is null or absent.</summary>
    public long GetInt64(string key, long fallback = 0) => _values.TryGetValue(key, out var v) ? v switch
    {
        null => fallback,
        long l => l,
        int i => i,
        double d when d == Math.Floor(d) => (long)d,
        string s when long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) => l,
        _ => throw new DriverException($"The option '{key}' is not an integer."),
    } : fallback;

    /// <summary>Returns a number option, or <paramref name="fallback"/> when it is null or absent.</summary>
    public double GetDouble(string key, double fallback = 0) => _values.TryGetValue(key, out var v) ? v switch
    {
        null => fallback,
        double d => d,
        long l => l,
        int i => i,
        string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
        _ => throw new DriverException($"The option '{key}' is not a number."),
    } : fallback;

    /// <summary>Returns a boolean option, or <paramref name="fallback"/> when it is null or absent.</summary>
    public bool GetBoolean(string key, bool fallback = false) => _values.TryGetValue(key, out var v) ? v switch
    {
        null => fallback,
        bool b => b,
        string s when bool.TryParse(s, out var b) => b,
        _ => throw new DriverException($"The option '{key}' is not a boolean."),
    } : fallback;

    /// <summary>Returns whether the manifest marks <paramref name="key"/> as a secret.</summary>
    public bool IsSecret(string key) => _secrets.Contains(key);

    /// <inheritdoc />
    public object? this[string key] => _values[key];

    /// <inheritdoc />
    public IEnumerable<string> Keys => _values.Keys;

    /// <inheritdoc />
    public IEnumerable<object?> Values => _values.Values;

    /// <inheritdoc />
    public int Count => _values.Count;

    /// <inheritdoc />
    public bool ContainsKey(string key) => _values.ContainsKey(key);

    /// <inheritdoc />
    public bool TryGetValue(string key, out object? value) => _values.TryGetValue(key, out value);

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => _values.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Shows the options with secret values masked.</summary>
    public override string ToString() =>
        "{" + string.Join(", ", _values.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => $"{p.Key}={(_secrets.Contains(p.Key) ? "***" : p.Value?.ToString() ?? "null")}")) + "}";
}
