namespace Onitu.Drivers.Ssh;

/// <summary>
/// Pairs files that vanished with files that appeared in the same look at the server when they are the same file
/// renamed: same size and mtime (SFTP v3 offers no inode and OpenSSH no hash extension), and, among several such
/// candidates, the one whose path shares the longest tail with the old one (a directory rename keeps the names
/// below it). Ambiguous cases stay unpaired: reported as a removal plus a creation, which is never wrong, only slower.
/// </summary>
internal static class MoveMatcher
{
    /// <summary>Returns the (old path, new path) pairs; each path is used at most once.</summary>
    /// <param name="vanished">Paths gone, with their key (the revision: size and mtime).</param>
    /// <param name="appeared">New paths (not known before), with their key.</param>
    public static List<(string From, string To)> Match(IEnumerable<(string Path, string Key)> vanished, IEnumerable<(string Path, string Key)> appeared)
    {
        var byKey = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (path, key) in appeared)
        {
            if (!byKey.TryGetValue(key, out var list)) byKey[key] = list = [];
            list.Add(path);
        }
        var pairs = new List<(string, string)>();
        if (byKey.Count == 0) return pairs;
        var taken = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (from, key) in vanished)
        {
            if (!byKey.TryGetValue(key, out var candidates)) continue;
            string? best = null;
            var bestScore = -1;
            var tie = false;
            var open = 0;
            foreach (var candidate in candidates)
            {
                if (taken.Contains(candidate)) continue;
                open++;
                var score = CommonTail(from, candidate);
                if (score > bestScore) (best, bestScore, tie) = (candidate, score, false);
                else if (score == bestScore) tie = true;
            }
            // A different name is believed only when it is the one candidate; a shared tail must be unambiguous.
            if (best is null || tie || (bestScore == 0 && open != 1)) continue;
            taken.Add(best);
            pairs.Add((from, best));
        }
        return pairs;
    }

    // How many trailing path segments two paths share ("a/x/f" and "b/x/f": 2).
    private static int CommonTail(string a, string b)
    {
        var count = 0;
        int i = a.Length, j = b.Length;
        while (i > 0 && j > 0)
        {
            var sa = a.LastIndexOf('/', i - 1);
            var sb = b.LastIndexOf('/', j - 1);
            if (!a.AsSpan(sa + 1, i - sa - 1).SequenceEqual(b.AsSpan(sb + 1, j - sb - 1))) break;
            count++;
            if (sa < 0 || sb < 0) break;
            i = sa;
            j = sb;
        }
        return count;
    }
}
