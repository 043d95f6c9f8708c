using System.Globalization;

namespace Onitu.Rules;

/// <summary>
/// Parses the sizes of the folder options <c>min-size</c> and <c>max-size</c>: a number with an optional multiplying
/// suffix, metric (<c>k M G T P</c>, powers of 1000; <c>K</c> is taken as <c>k</c>) or IEC (<c>Ki Mi Gi Ti Pi</c>,
/// powers of 1024), optionally followed by <c>B</c>: <c>3</c>, <c>1.5k</c>, <c>10 MiB</c>, <c>2 GB</c>.
/// </summary>
/// <remarks>
/// The number may have a fractional part (<c>1.5M</c> is 1 500 000 bytes); a result that is not a whole number of
/// bytes is rounded down. Spaces around the number and between the number and the suffix are ignored. Lower-case
/// <c>m g t p</c> are refused rather than guessed (in SI <c>m</c> is "milli").
/// </remarks>
internal static class SizeParser
{
    /// <summary>Parses a size in bytes.</summary>
    /// <exception cref="FormatException">The text is not a size, is negative or does not fit a <see cref="long"/>; the message quotes the text.</exception>
    public static long Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var bytes, out var problem)
            ? bytes
            : throw new FormatException($"'{text}' is not a size: {problem}.");
    }

    /// <summary>Parses a size in bytes, returning whether the text was one.</summary>
    public static bool TryParse(string? text, out long bytes) => TryParse(text, out bytes, out _);

    /// <summary>Parses a size and says what is wrong when it is not one.</summary>
    internal static bool TryParse(string? text, out long bytes, out string problem)
    {
        bytes = 0;
        problem = string.Empty;
        var span = (text ?? string.Empty).AsSpan().Trim();
        if (span.IsEmpty)
        {
            problem = "it is empty";
            return false;
        }
        if (span[0] == '-')
        {
            problem = "a size cannot be negative";
            return false;
        }

        var end = 0;
        while (end < span.Length && (char.IsAsciiDigit(span[end]) || span[end] == '.'))
            end++;
        if (!decimal.TryParse(span[..end], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
        {
            problem = end == 0
                ? "it must start with a number"
                : "the number is not valid or too large";
            return false;
        }

        if (!TryParseUnit(span[end..].TrimStart(), out var multiplier))
        {
            problem = "the unit must be one of k, M, G, T, P (powers of 1000) or Ki, Mi, Gi, Ti, Pi (powers of 1024), optionally followed by B";
            return false;
        }

        decimal value;
        try
        {
            value = decimal.Floor(number * multiplier);
        }
        catch (OverflowException)
        {
            problem = "it is too large";
            return false;
        }
        if (value > long.MaxValue)
        {
            problem = "it is too large";
            return false;
        }
        bytes = (long)value;
        return true;
    }

    private static bool TryParseUnit(ReadOnlySpan<char> unit, out decimal multiplier)
    {
        multiplier = 1;
        if (unit.IsEmpty)
            return true;
        var power = unit[0] switch
        {
            'k' or 'K' => 1,
            'M' => 2,
            'G' => 3,
            'T' => 4,
            'P' => 5,
            _ => 0,
        };
        if (power > 0)
        {
            unit = unit[1..];
            var @base = 1000m;
            if (!unit.IsEmpty && unit[0] == 'i')
            {
                @base = 1024m;
                unit = unit[1..];
            }
            for (var i = 0; i < power; i++)
                multiplier *= @base;
        }
        return unit.IsEmpty || unit is "B" or "b";
    }
}
