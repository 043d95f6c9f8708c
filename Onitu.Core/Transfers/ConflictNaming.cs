using System.Globalization;
using System.Text.RegularExpressions;

namespace Onitu.Transfers;

/// <summary>
/// Names the copy that keeps the losing side of a conflict. The name is derived only from the original path, the
/// service whose write lost and that write's time, so it is the same on every service:
/// <c>dir/report.conflict-laptop-20261122-153000.txt</c> (the extension stays last so the file still opens with
/// the same program; time in UTC). When that name is taken, <c>-2</c>, <c>-3</c>… is appended to the stem.
/// A conflict on a conflict copy names its loser after the original file, never by nesting
/// (<c>report.conflict-phone-….txt</c>, not <c>report.conflict-laptop-….conflict-phone-….txt</c>).
/// </summary>
internal static partial class ConflictNaming
{
    /// <summary>The marker every conflict copy carries in its name.</summary>
    public const string Marker = ".conflict-";

    /// <summary>Returns the conflict copy's path for <paramref name="path"/>.</summary>
    /// <param name="path">The file's relative path.</param>
    /// <param name="losingService">The service whose content is kept under the conflict name.</param>
    /// <param name="writtenAt">When the losing content was written.</param>
    /// <param name="isTaken">Tells whether a candidate path is already a live file.</param>
    public static string Create(string path, string losingService, DateTimeOffset writtenAt, Func<string, bool>? isTaken = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var directory = FilePath.GetDirectory(path);
        var name = FilePath.GetFileName(path);
        var marker = name.IndexOf(Marker, StringComparison.Ordinal);
        string stem, extension;
        if (marker > 0)
        {
            // The extension is what follows the stamp: none for a copy of a file without one, whose last dot is the
            // marker's own (taking the marker for an extension nested the names, x.conflict-B-….conflict-C-…).
            var stamped = name[(marker + Marker.Length)..];
            var dot = stamped.LastIndexOf('.');
            (stem, extension) = (name[..marker], dot >= 0 ? stamped[dot..] : string.Empty);
        }
        else
        {
            var dot = name.LastIndexOf('.');
            (stem, extension) = dot > 0 ? (name[..dot], name[dot..]) : (name, string.Empty);
        }
        var stamp = writtenAt.UtcDateTime.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        var service = string.Concat(losingService.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '_'));

        return FirstFree(directory, $"{stem}{Marker}{service}-{stamp}", extension, first: 1, isTaken);
    }

    /// <summary>
    /// The next free name after <paramref name="conflictPath"/>, a name <see cref="Create"/> gave that was taken since
    /// (a file of that name turned up on a service after it was planned): the same name with the next <c>-N</c>.
    /// </summary>
    public static string Next(string conflictPath, Func<string, bool> isTaken)
    {
        ArgumentNullException.ThrowIfNull(conflictPath);
        var directory = FilePath.GetDirectory(conflictPath);
        var match = Planned().Match(FilePath.GetFileName(conflictPath));
        if (!match.Success)
            throw new ArgumentException($"'{conflictPath}' is not a conflict copy's name.", nameof(conflictPath));
        var taken = match.Groups["n"].Success ? int.Parse(match.Groups["n"].Value, CultureInfo.InvariantCulture) : 1;
        return FirstFree(directory, match.Groups["head"].Value, match.Groups["ext"].Value, taken + 1, isTaken);
    }

    private static string FirstFree(string directory, string head, string extension, int first, Func<string, bool>? isTaken)
    {
        for (var attempt = first; ; attempt++)
        {
            var suffix = attempt == 1 ? string.Empty : "-" + attempt.ToString(CultureInfo.InvariantCulture);
            var candidateName = $"{head}{suffix}{extension}";
            var candidate = directory.Length == 0 ? candidateName : directory + "/" + candidateName;
            if (isTaken is null || !isTaken(candidate))
                return candidate;
        }
    }

    // <stem>.conflict-<service>-<yyyyMMdd-HHmmss>[-N][.ext], as Create writes it.
    [GeneratedRegex(@"^(?<head>.+\.conflict-.+-\d{8}-\d{6})(?:-(?<n>\d+))?(?<ext>\.[^.]*)?$", RegexOptions.CultureInvariant)]
    private static partial Regex Planned();
}
