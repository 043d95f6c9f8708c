namespace Onitu.Rules;

/// <summary>
/// Matches media types against the patterns of the folder option <c>type</c> (RFC 6838 types): a full type
/// (<c>image/png</c>), a glob (<c>audio/*</c>, <c>*/xml</c>, <c>application/vnd.*</c>, <c>*</c>) or, as the seed
/// asks, an incomplete type (<c>audio</c>, which means <c>audio/*</c>).
/// </summary>
/// <remarks>
/// Comparison is ordinal and case-insensitive (media types are). Parameters of the tested type
/// (<c>text/plain; charset=utf-8</c>) are ignored. In a pattern, <c>*</c> matches any run of characters and
/// <c>?</c> one character.
/// </remarks>
internal static class MediaTypePattern
{
    /// <summary>Returns whether <paramref name="mimeType"/> matches <paramref name="pattern"/>.</summary>
    public static bool IsMatch(string pattern, string mimeType)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(mimeType);
        var type = mimeType.AsSpan();
        var semicolon = type.IndexOf(';');
        if (semicolon >= 0)
            type = type[..semicolon];
        type = type.Trim();
        var glob = pattern.AsSpan().Trim();

        if (glob.IndexOf('/') < 0)
        {
            // An incomplete type names the top-level type: "audio" is "audio/*".
            var slash = type.IndexOf('/');
            return WildcardMatch(glob, slash < 0 ? type : type[..slash]);
        }
        return WildcardMatch(glob, type);
    }

    /// <summary>Returns whether <paramref name="pattern"/> is a type pattern, and if not, why.</summary>
    internal static bool TryValidate(string pattern, out string problem)
    {
        problem = string.Empty;
        var parts = pattern.Trim().Split('/');
        if (parts.Length > 2)
        {
            problem = "a media type has at most one '/'";
            return false;
        }
        foreach (var part in parts)
        {
            if (part.Length == 0)
            {
                problem = "a media type is 'type' or 'type/subtype', neither empty";
                return false;
            }
            foreach (var c in part)
            {
                // RFC 6838 §4.2 restricted-name characters, plus the wildcards.
                if (!char.IsAsciiLetterOrDigit(c) && c is not ('!' or '#' or '$' or '&' or '-' or '^' or '_' or '.' or '+' or '*' or '?'))
                {
                    problem = $"'{c}' cannot appear in a media type";
                    return false;
                }
            }
        }
        return true;
    }

    /// <summary>Glob match with '*' and '?', case-insensitive, linear in practice (greedy with one backtrack point).</summary>
    private static bool WildcardMatch(ReadOnlySpan<char> pattern, ReadOnlySpan<char> text)
    {
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || char.ToUpperInvariant(pattern[p]) == char.ToUpperInvariant(text[t])))
            {
                p++;
                t++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = t;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++mark;
            }
            else
            {
                return false;
            }
        }
        while (p < pattern.Length && pattern[p] == '*')
            p++;
        return p == pattern.Length;
    }
}
