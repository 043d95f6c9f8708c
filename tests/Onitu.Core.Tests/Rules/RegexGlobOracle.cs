using System.Text;
using System.Text.RegularExpressions;

namespace Onitu.Core.Tests.Rules;

using Onitu.Rules;

/// <summary>
/// The former implementation of <see cref="Glob"/>: each pattern translated to a .NET regex (NonBacktracking). Kept as
/// the reference the compiled matcher is compared with, with the two differences the matcher makes on purpose:
/// <list type="bullet">
/// <item>a class never matches <c>/</c> (the regex let a range such as <c>[.-a]</c> match it, so <c>x[.-a]y</c>
/// crossed directories, against the documented rule); the oracle subtracts <c>/</c> from every class;</item>
/// <item>the regex's <c>$</c> also matched before a final <c>\n</c>, so <c>*.tmp</c> matched a file named
/// <c>"a.tmp\n"</c>; the oracle anchors with <c>\z</c>.</item>
/// </list>
/// </summary>
internal static class RegexGlobOracle
{
    private const RegexOptions Options = RegexOptions.CultureInvariant | RegexOptions.Singleline | RegexOptions.NonBacktracking;
    private const string AnyChar = @"(?:[\uD800-\uDBFF][\uDC00-\uDFFF]|[^/])";

    public static Regex Compile(string pattern, bool asReleased = false) => CompileAny([pattern], asReleased);

    public static Regex CompileAny(IEnumerable<string> patterns, bool asReleased = false) =>
        new("^(?:" + string.Join("|", patterns.Select(p => ToRegex(p, asReleased))) + (asReleased ? ")$" : @")\z"), Options);

    private static string ToRegex(string pattern, bool asReleased)
    {
        var glob = Glob.NormalizePath(pattern);
        var anchored = glob.StartsWith('/');
        var directoryOnly = glob.EndsWith('/');
        var segments = glob.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length == 0)
            return "[^\\s\\S]";
        anchored |= segments.Length > 1;
        var regex = new StringBuilder();
        if (!anchored)
            regex.Append("(?:.*/)?");
        var needSeparator = false;
        for (var i = 0; i < segments.Length; i++)
        {
            var segment = segments[i];
            if (needSeparator)
                regex.Append('/');
            if (segment == "**")
            {
                regex.Append(i == segments.Length - 1 ? ".*" : "(?:.*/)?");
                needSeparator = false;
                continue;
            }
            AppendSegment(regex, segment, pattern, asReleased);
            needSeparator = true;
        }
        regex.Append(directoryOnly ? "/.*" : "(?:/.*)?");
        return regex.ToString();
    }

    private static void AppendSegment(StringBuilder regex, string segment, string pattern, bool asReleased)
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
                    i = AppendClass(regex, segment, i, pattern, asReleased);
                    break;
                case '\\' when i + 1 < segment.Length:
                    i++;
                    regex.Append(Regex.Escape(segment[i].ToString()));
                    break;
                default:
                    regex.Append(Regex.Escape(c.ToString()));
                    break;
            }
        }
    }

    private static int AppendClass(StringBuilder regex, string segment, int start, string pattern, bool asReleased)
    {
        var i = start + 1;
        var negated = i < segment.Length && segment[i] is '!' or '^';
        if (negated)
            i++;
        var first = i;
        var close = segment.IndexOf(']', i < segment.Length && segment[i] == ']' ? i + 1 : i);
        if (close < 0)
        {
            regex.Append(Regex.Escape("["));
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
        if (!negated && !asReleased)
            regex.Append("-[/]");
        regex.Append(']');
        return close;
    }

    private static void AppendClassChar(StringBuilder regex, char c)
    {
        if (c is '\\' or ']' or '[' or '^' or '-')
            regex.Append('\\');
        regex.Append(c);
    }
}
