namespace Onitu.Rules;

/// <summary>
/// A glob compiled for matching (see <see cref="Glob"/> for the syntax): a few hundred bytes, built in time linear in the
/// pattern's length, matched in time linear in the path's length times the pattern's.
/// </summary>
/// <remarks>
/// A path is a list of components (split on <c>/</c>, empty ones kept). The pattern is a list of blocks of segments,
/// each segment matching exactly one component, separated by <c>**</c> (any number of components). A pattern without
/// <c>/</c>, or starting with <c>**</c>, "floats": its first block may start at any component; otherwise it starts at
/// the first. After the last block, any further components are allowed (a pattern that matches a directory matches
/// everything beneath it), but at least <see cref="_tail"/> of them: one for a pattern ending with <c>/</c> (only
/// beneath a directory), one more for a trailing <c>**</c>. Placing each block at the leftmost component where it
/// matches is then always right (a later block only needs to start after it), so matching never backtracks.
/// </remarks>
internal sealed class GlobPattern
{
    private const int StackComponents = 128;

    private readonly GlobSegment[][] _blocks;
    private readonly bool _floating;
    private readonly int _tail;
    private readonly bool _matchesNothing;

    private GlobPattern(string text, GlobSegment[][] blocks, bool floating, int tail, bool matchesNothing)
    {
        Text = text;
        _blocks = blocks;
        _floating = floating;
        _tail = tail;
        _matchesNothing = matchesNothing;
    }

    /// <summary>The pattern as written.</summary>
    public string Text { get; }

    /// <summary>The first segment every match must place on a component, or <see langword="null"/> when the pattern is only <c>**</c>s.</summary>
    public GlobSegment? FirstSegment => _blocks.Length > 0 ? _blocks[0][0] : null;

    /// <summary>Whether <see cref="FirstSegment"/> may match any component, not only the path's first one.</summary>
    public bool Floats => _floating;

    /// <summary>Whether no path can match (the pattern is empty or only slashes).</summary>
    public bool MatchesNothing => _matchesNothing;

    /// <summary>Compiles <paramref name="pattern"/>.</summary>
    /// <exception cref="FormatException">The pattern has a reversed range such as <c>[z-a]</c>.</exception>
    public static GlobPattern Parse(string pattern)
    {
        var glob = Glob.NormalizePath(pattern);
        var anchored = glob.StartsWith('/');
        var directoryOnly = glob.EndsWith('/');
        var segments = glob.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length == 0)
            return new GlobPattern(pattern, [], floating: false, tail: 0, matchesNothing: true);
        anchored |= segments.Length > 1;

        var blocks = new List<GlobSegment[]>();
        var block = new List<GlobSegment>();
        var floating = !anchored;
        foreach (var segment in segments)
        {
            if (segment == "**")
            {
                if (blocks.Count == 0 && block.Count == 0)
                    floating = true;
                if (block.Count > 0)
                    blocks.Add([.. block]);
                block.Clear();
                continue;
            }
            block.Add(GlobSegment.Parse(segment, pattern));
        }
        if (block.Count > 0)
            blocks.Add([.. block]);
        var tail = (directoryOnly ? 1 : 0) + (segments[^1] == "**" ? 1 : 0);
        return new GlobPattern(pattern, [.. blocks], floating, tail, matchesNothing: false);
    }

    /// <summary>Returns whether <paramref name="path"/> (in <see cref="Glob.NormalizePath"/> form) matches.</summary>
    public bool IsMatch(string path)
    {
        if (_matchesNothing)
            return false;
        var count = CountComponents(path);
        Span<int> starts = count < StackComponents ? stackalloc int[count + 1] : new int[count + 1];
        Split(path, starts);
        return IsMatch(path, starts);
    }

    /// <summary>The number of components of <paramref name="path"/> (at least one: the empty path has one empty component).</summary>
    public static int CountComponents(string path) => path.AsSpan().Count('/') + 1;

    /// <summary>
    /// Fills <paramref name="starts"/> (of <see cref="CountComponents"/> + 1 entries) with where each component starts,
    /// and one past the end of the path plus one; component i is <c>[starts[i], starts[i + 1] - 1)</c>.
    /// </summary>
    public static void Split(string path, Span<int> starts)
    {
        var n = 0;
        starts[n++] = 0;
        for (var i = 0; i < path.Length; i++)
        {
            if (path[i] == '/')
                starts[n++] = i + 1;
        }
        starts[n] = path.Length + 1;
    }

    /// <summary>Returns whether the path, already split by <see cref="Split"/>, matches.</summary>
    public bool IsMatch(string path, ReadOnlySpan<int> starts)
    {
        if (_matchesNothing)
            return false;
        var n = starts.Length - 1;
        var position = 0;
        for (var b = 0; b < _blocks.Length; b++)
        {
            var block = _blocks[b];
            var last = n - block.Length; // the last component the block can start at
            if (b == 0 && !_floating)
                last = Math.Min(last, 0);
            var found = -1;
            for (var start = position; start <= last; start++)
            {
                if (BlockMatches(block, path, starts, start))
                {
                    found = start;
                    break;
                }
            }
            if (found < 0)
                return false;
            position = found + block.Length;
        }
        return n - position >= _tail;
    }

    private static bool BlockMatches(GlobSegment[] block, string path, ReadOnlySpan<int> starts, int start)
    {
        for (var i = 0; i < block.Length; i++)
        {
            var c = start + i;
            if (!block[i].IsMatch(path.AsSpan(starts[c], starts[c + 1] - 1 - starts[c])))
                return false;
        }
        return true;
    }
}
