using System.Globalization;

namespace Onitu.Rules;

/// <summary>
/// How many of a folder's files one scan of one service may find deleted before the engine refuses to propagate any
/// of those deletions (the <c>max-delete</c> folder option and the <c>--max-delete</c> flag): a disk that did not
/// mount, or a directory emptied by mistake, must not empty every other service. Written <c>50%</c> (a share of the
/// files the service held in the folder, checked from <see cref="MinimumFiles"/> files on) or <c>100</c> (a count).
/// </summary>
public readonly record struct DeletionLimit
{
    /// <summary>The default: more than half of a folder's files, when it held at least <see cref="MinimumFiles"/>.</summary>
    public static DeletionLimit Default { get; } = Percent(50);

    /// <summary>Below this many files a share limit is not applied: deleting 3 of 4 files is ordinary work.</summary>
    public const int MinimumFiles = 10;

    private DeletionLimit(double? percent, long? count)
    {
        PercentOfFiles = percent;
        Count = count;
    }

    /// <summary>The share of the folder's files (0–100), when the limit is a share.</summary>
    public double? PercentOfFiles { get; }

    /// <summary>The number of files, when the limit is a count.</summary>
    public long? Count { get; }

    /// <summary>A limit of <paramref name="percent"/> % of the files.</summary>
    public static DeletionLimit Percent(double percent)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(percent);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percent, 100);
        return new(percent, null);
    }

    /// <summary>A limit of <paramref name="count"/> files.</summary>
    public static DeletionLimit Files(long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return new(null, count);
    }

    /// <summary>Whether <paramref name="deleted"/> files found deleted out of <paramref name="held"/> exceed the limit.</summary>
    public bool IsExceeded(long deleted, long held) => PercentOfFiles is { } percent
        ? held >= MinimumFiles && deleted * 100.0 > percent * held
        : deleted > Count;

    /// <summary>Parses <c>50%</c> or <c>100</c>.</summary>
    public static bool TryParse(string? text, out DeletionLimit limit, out string? problem)
    {
        limit = default;
        problem = null;
        var trimmed = text?.Trim() ?? string.Empty;
        if (trimmed.EndsWith('%'))
        {
            if (double.TryParse(trimmed[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var percent) && percent is >= 0 and <= 100)
            {
                limit = Percent(percent);
                return true;
            }
            problem = "a share must be between 0% and 100%";
            return false;
        }
        if (long.TryParse(trimmed, NumberStyles.None, CultureInfo.InvariantCulture, out var count))
        {
            limit = Files(count);
            return true;
        }
        problem = "write a share of the folder's files such as 50% or a number of files such as 100";
        return false;
    }

    /// <inheritdoc />
    public override string ToString() => PercentOfFiles is { } percent
        ? percent.ToString(CultureInfo.InvariantCulture) + "%"
        : Count!.Value.ToString(CultureInfo.InvariantCulture);
}
