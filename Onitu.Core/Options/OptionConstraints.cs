using System.Globalization;
using System.Text.RegularExpressions;

namespace Onitu.Options;

/// <summary>
/// Says in words what a manifest option's bounds (<see cref="ManifestOption.Minimum"/>, <see cref="ManifestOption.Maximum"/>,
/// <see cref="ManifestOption.Pattern"/>, lengths) require of a value — the JSON Schema checks them for setups; this
/// explains a refusal and checks the manifest's own defaults.
/// </summary>
internal static class OptionConstraints
{
    private static readonly TimeSpan PatternTimeout = TimeSpan.FromSeconds(1);

    /// <summary>What the value breaks, as "must be …" (without the option's name), or null when it satisfies every bound.</summary>
    public static string? Violation(ManifestOption option, object? value)
    {
        ArgumentNullException.ThrowIfNull(option);
        switch (value)
        {
            case null or bool:
                return null;
            case string text:
                if ((option.MinLength is { } min && text.Length < min) || (option.MaxLength is { } max && text.Length > max))
                    return LengthRule(option);
                if (option.Pattern is { } pattern && !Matches(pattern, text))
                    return PatternRule(option);
                return null;
            case IConvertible when IsNumber(value):
                var number = Convert.ToDouble(value, CultureInfo.InvariantCulture);
                return (option.Minimum is { } low && number < low) || (option.Maximum is { } high && number > high) ? RangeRule(option) : null;
            default:
                return null;
        }
    }

    /// <summary>"must be between 1 and 65535", "must be at least 1" or "must be at most 10".</summary>
    public static string RangeRule(ManifestOption option) => (option.Minimum, option.Maximum) switch
    {
        ({ } low, { } high) => $"must be between {Show(low)} and {Show(high)}",
        ({ } low, null) => $"must be at least {Show(low)}",
        (null, { } high) => $"must be at most {Show(high)}",
        _ => "is out of range",
    };

    /// <summary>"must not be empty", "must have 2 to 8 characters" and the like.</summary>
    public static string LengthRule(ManifestOption option) => (option.MinLength, option.MaxLength) switch
    {
        (1, null) => "must not be empty",
        ({ } low, { } high) => $"must have {low} to {high} characters",
        ({ } low, null) => $"must have at least {low} characters",
        (null, { } high) => $"must have at most {high} characters",
        _ => "has the wrong length",
    };

    /// <summary>"must match the pattern …".</summary>
    public static string PatternRule(ManifestOption option) =>
        $"must match the pattern {option.Pattern}" + (option.Description.Length > 0 ? $" ({option.Description.TrimEnd('.')})" : string.Empty);

    private static bool Matches(string pattern, string text)
    {
        try
        {
            return Regex.IsMatch(text, pattern, RegexOptions.None, PatternTimeout);
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }

    private static bool IsNumber(object value) =>
        value is long or int or short or sbyte or byte or ulong or uint or ushort or double or float or decimal;

    private static string Show(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
