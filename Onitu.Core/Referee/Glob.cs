using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;

namespace Onitu.Referee;

/// <summary>
/// Shell-like globbing on the <c>/</c>-separated relative paths of a folder, with the rules of <c>.gitignore</c>,
/// used by the folder options <c>blacklist</c> and <c>whitelist</c>.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><c>*</c> matches any run of characters except <c>/</c>; <c>?</c> one character except <c>/</c>;
/// <c>[abc]</c>, <c>[a-z]</c> a character of the class, <c>[!x]</c> or <c>[^x]</c> one not in it (never <c>/</c>);
/// <c>\</c> escapes the next character.</item>
/// <item><c>**</c> as a whole segment matches any number of directories, zero included: <c>**/x</c>, <c>a/**/b</c>,
/// <c>a/**</c>. Elsewhere (<c>a**b</c>) it is a plain <c>*</c>.</item>
/// <item>A pattern without <c>/</c> matches a name at any depth: <c>*.tmp</c> matches <c>a/b/c.tmp</c>. A pattern
/// with a <c>/</c> (leading or inside) is anchored at the folder's root: <c>docs/*.md</c> matches
/// <c>docs/a.md</c>, not <c>x/docs/a.md</c>.</item>
/// <item>A pattern matches a path when it matches the path itself or one of its parent directories, so
/// <c>node_modules</c> or <c>build</c> cover everything beneath such a directory.</item>
/// <item>A pattern ending with <c>/</c> (<c>build/</c>) matches directories only, hence everything under them but
/// not a file named <c>build</c>. The trailing <c>/</c> does not count for anchoring (<c>build/</c> is found at any
/// depth, <c>src/build/</c> only at the root).</item>
/// </list>
/// Matching is ordinal (case-sensitive) and culture-invariant; pattern and path are compared in Unicode
/// normalization form C, so a name written decomposed (as macOS does) matches a pattern written composed. Patterns
/// are compiled to a linear-time <see cref="Regex"/> once and cached.
/// </remarks>
public static class Glob
{
    private const RegexOptions Options = RegexOptions.CultureInvariant | RegexOptions.Singleline | RegexOptions.NonBacktracking;
    private const int CacheLimit = 4096;

    // One UTF-16 character or one surrogate pair, never '/'.
    private const string AnyChar = @"(?:[\uD800-\uDBFF][\uDC00-\uDFFF]|[^/])";

    private static readonly ConcurrentDictionary<string, Regex> Cache = new(StringComparer.Ordinal);

    /// <summary>Returns whether <paramref name="path"/> (relative to its folder, <c>/</c>-separated) matches <paramref name="pattern"/>.</summary>
    /// <exception cref="FormatException">The pattern is not valid (a reversed range such as <c>[z-a]</c>).</exception>
    public static bool IsMatch(string pattern, string path)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(path);
        return GetRegex(pattern).IsMatch(NormalizePath(path));
    }

    /// <summary>Returns whether <paramref name="pattern"/> is a valid glob, and if not, why.</summary>
    internal static bool TryValidate(string pattern, out string problem)
    {
        problem = string.Empty;
        if (pattern.Length == 0 || pattern.All(c => c == '/'))
        {
            problem = "an empty pattern matches nothing";
            return false;
        }
        try
        {
            _ = GetRegex(pattern);
            return true;
        }
        catch (FormatException e)
        {
            problem = e.Message;
            return false;
        }
    }

    /// <summary>Compiles a regex matching a path that any of <paramref name="patterns"/> matches (one pass for a whole list).</summary>
    internal static Regex CompileAny(IEnumerable<string> patterns) =>
        new("^(?:" + string.Join("|", patterns.Select(ToRegex)) + ")$", Options);

    /// <summary>Puts a path in the form patterns are compiled in (normalization form C).</summary>
    internal static string NormalizePath(string path) =>
        path.IsNormalized(NormalizationForm.FormC) ? path : path.Normalize(NormalizationForm.FormC);

    private static Regex GetRegex(string pattern)
    {
        if (Cache.TryGetValue(pattern, out var regex))
            return regex;
        regex = new Regex("^" + ToRegex(pattern) + "$", Options);
        if (Cache.Count < CacheLimit) // patterns come from setups: a handful; never let arbitrary callers grow it
            Cache.TryAdd(pattern, regex);
        return regex;
    }

    /// <summary>Translates a glob to an unanchored regex body.</summary>
    internal static string ToRegex(string pattern)
    {
        var glob = NormalizePath(pattern);
        var anchored = glob.StartsWith('/');
        var directoryOnly = glob.EndsWith('/');
        var segments = glob.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length == 0)
            return "[^\\s\\S]"; // matches nothing
        anchored |= segments.Length > 1;

        var regex = new StringBuilder(glob.Length * 2);
        if (!anchored)
            regex.Append("(?:.*/)?");
        var needSeparator = false;
        for (var i = 0; i < segments.Length; i++)
        {
            var segment = segments[i];
            if (segment == "**")
            {
                if (needSeparator)
                    regex.Append('/');
                regex.Append(i == segments.Length - 1 ? ".*" : "(?:.*/)?");
                needSeparator = false;
                continue;
            }
            if (needSeparator)
                regex.Append('/');
            AppendSegment(regex, segment, pattern);
            needSeparator = true;
        }
        // A pattern that matches a directory matches everything beneath it; "dir/" matches only beneath.
        regex.Append(directoryOnly ? "/.*" : "(?:/.*)?");
        return regex.ToString();
    }

    private static void AppendSegment(StringBuilder regex, string segment, string pattern)
    {
        for (var i = 0; i < segment.Length; i++)
        {
            var c = segment[i];
            switch (c)
            {
                case '*':
                    while (i + 1 < segment.Length && segment[i + 1] == '*')
                        i++;
                    regex.Append("[^/]*");
                    break;
                case '?':
                    regex.Append(AnyChar);
                    break;
                case '[':
                    i = AppendClass(regex, segment, i, pattern);
                    break;
                case '\\' when i + 1 < segment.Length:
                    i++;
                    AppendLiteral(regex, segment[i]);
                    break;
                default:
                    AppendLiteral(regex, c);
                    break;
            }
        }
    }

    /// <summary>Appends the class starting at <paramref name="start"/> (a '[') and returns the index of its ']'.</summary>
    private static int AppendClass(StringBuilder regex, string segment, int start, string pattern)
    {
        var i = start + 1;
        var negated = i < segment.Length && segment[i] is '!' or '^';
        if (negated)
            i++;
        var first = i;
        // A ']' right after '[' or '[!' is a member, not the end.
        var close = segment.IndexOf(']', i < segment.Length && segment[i] == ']' ? i + 1 : i);
        if (close < 0)
        {
            AppendLiteral(regex, '['); // an unterminated '[' is a plain character, as in the shell
            return start;
        }

        regex.Append(negated ? "[^/" : "[");
        for (i = first; i < close; i++)
        {
            var low = segment[i];
            if (i + 2 < close && segment[i + 1] == '-')
            {
                var high = segment[i + 2];
                if (high < low)
                    throw new FormatException($"The pattern '{pattern}' has the reversed range '{low}-{high}'.");
                AppendClassChar(regex, low);
                regex.Append('-');
                AppendClassChar(regex, high);
                i += 2;
            }
            else
            {
                AppendClassChar(regex, low);
            }
        }
        regex.Append(']');
        return close;
    }

    private static void AppendClassChar(StringBuilder regex, char c)
    {
        if (c is '\\' or ']' or '[' or '^' or '-')
            regex.Append('\\');
        regex.Append(c);
    }

    private static void AppendLiteral(StringBuilder regex, char c)
    {
        if (char.IsAsciiLetterOrDigit(c) || c is '/' or '_' or '-')
            regex.Append(c);
        else
            regex.Append(Regex.Escape(c.ToString()));
    }
}
