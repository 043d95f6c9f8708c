namespace Onitu.Setup;

/// <summary>Finds the known name a misspelt one most likely meant, for "did you mean" hints.</summary>
internal static class NameSuggestion
{
    /// <summary>Returns the candidate nearest to <paramref name="name"/>, or <see langword="null"/> when none is close.</summary>
    public static string? Nearest(string name, IEnumerable<string> candidates)
    {
        var wanted = Canonical(name);
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            var known = Canonical(candidate);
            var distance = wanted.Length >= 3 && known.StartsWith(wanted, StringComparison.Ordinal)
                ? 1 // "max" for "max-size"
                : Distance(wanted, known);
            if (distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }
        var limit = name.Length <= 3 ? 1 : name.Length <= 6 ? 2 : 3;
        return bestDistance <= limit ? best : null;
    }

    /// <summary>Returns <c>" (did you mean 'x'?)"</c>, or an empty string when no candidate is close.</summary>
    public static string Hint(string name, IEnumerable<string> candidates) =>
        Nearest(name, candidates) is { } nearest ? $" (did you mean '{nearest}'?)" : string.Empty;

    // Case and '_' versus '-' are the commonest slips: they cost nothing.
    private static string Canonical(string name) => name.ToLowerInvariant().Replace('_', '-');

    /// <summary>Optimal string alignment distance (Levenshtein plus adjacent transpositions).</summary>
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
            d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++)
            d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }
}
