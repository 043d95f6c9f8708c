namespace Onitu.Rules;

/// <summary>
/// A list of globs compiled to answer "does any of them match this path?" without trying each one: the patterns are
/// indexed by the literal text their first segment needs (a whole name such as <c>node_modules</c>, an ending such as
/// <c>.tmp</c>, else a beginning such as <c>build</c>, or one of a few spelled by small classes: <c>[Tt]emp</c>), and a path only tries the patterns whose key one of its
/// components has (only its first component for anchored patterns). Patterns without such a key (<c>*</c>,
/// <c>?x?</c>) are tried for every path. Immutable and thread-safe.
/// </summary>
internal sealed class GlobSet
{
    private const int StackComponents = 128;

    // A pattern starting with small classes ([Tt]emp*) is indexed under each beginning they spell, up to this many.
    private const int MaxHeadAlternatives = 8;

    private readonly Index _anchored = new();
    private readonly Index _floating = new();
    private readonly GlobPattern[] _unindexed;

    /// <summary>Compiles <paramref name="patterns"/>; throws <see cref="FormatException"/> for an invalid one.</summary>
    public GlobSet(IEnumerable<string> patterns)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        var unindexed = new List<GlobPattern>();
        foreach (var text in patterns)
        {
            var pattern = GlobPattern.Parse(text);
            if (pattern.MatchesNothing)
                continue;
            if (pattern.FirstSegment is not { } first || !(pattern.Floats ? _floating : _anchored).TryAdd(first, pattern))
                unindexed.Add(pattern);
        }
        _unindexed = [.. unindexed];
        _anchored.Freeze();
        _floating.Freeze();
    }

    /// <summary>Returns whether any pattern matches <paramref name="path"/> (in <see cref="Glob.NormalizePath"/> form).</summary>
    public bool IsMatch(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var count = GlobPattern.CountComponents(path);
        Span<int> starts = count < StackComponents ? stackalloc int[count + 1] : new int[count + 1];
        GlobPattern.Split(path, starts);
        foreach (var pattern in _unindexed)
        {
            if (pattern.IsMatch(path, starts))
                return true;
        }
        if (!_anchored.IsEmpty && _anchored.AnyMatch(path, starts, Component(path, starts, 0)))
            return true;
        if (!_floating.IsEmpty)
        {
            for (var i = 0; i < count; i++)
            {
                if (_floating.AnyMatch(path, starts, Component(path, starts, i)))
                    return true;
            }
        }
        return false;
    }

    private static ReadOnlySpan<char> Component(string path, ReadOnlySpan<int> starts, int i) =>
        path.AsSpan(starts[i], starts[i + 1] - 1 - starts[i]);

    /// <summary>Patterns by the literal name, ending or beginning their first segment requires.</summary>
    private sealed class Index
    {
        private readonly Dictionary<string, List<GlobPattern>> _names = new(StringComparer.Ordinal);
        private readonly Dictionary<string, List<GlobPattern>> _endings = new(StringComparer.Ordinal);
        private readonly Dictionary<string, List<GlobPattern>> _beginnings = new(StringComparer.Ordinal);
        private Dictionary<string, List<GlobPattern>>.AlternateLookup<ReadOnlySpan<char>> _nameLookup;
        private Dictionary<string, List<GlobPattern>>.AlternateLookup<ReadOnlySpan<char>> _endingLookup;
        private Dictionary<string, List<GlobPattern>>.AlternateLookup<ReadOnlySpan<char>> _beginningLookup;
        private int[] _endingLengths = [];
        private int[] _beginningLengths = [];

        public bool IsEmpty => _names.Count == 0 && _endings.Count == 0 && _beginnings.Count == 0;

        public bool TryAdd(GlobSegment first, GlobPattern pattern)
        {
            if (first.IsLiteral)
                Add(_names, first.LiteralHead, pattern);
            else if (first.LiteralTail.Length > 0)
                Add(_endings, first.LiteralTail, pattern);
            else if (first.HeadAlternatives(MaxHeadAlternatives) is { Count: > 0 } heads)
            {
                foreach (var head in heads)
                    Add(_beginnings, head, pattern);
            }
            else
                return false;
            return true;
        }

        private static void Add(Dictionary<string, List<GlobPattern>> map, string key, GlobPattern pattern)
        {
            if (!map.TryGetValue(key, out var list))
                map[key] = list = [];
            list.Add(pattern);
        }

        public void Freeze()
        {
            _nameLookup = _names.GetAlternateLookup<ReadOnlySpan<char>>();
            _endingLookup = _endings.GetAlternateLookup<ReadOnlySpan<char>>();
            _beginningLookup = _beginnings.GetAlternateLookup<ReadOnlySpan<char>>();
            _endingLengths = [.. _endings.Keys.Select(k => k.Length).Distinct().Order()];
            _beginningLengths = [.. _beginnings.Keys.Select(k => k.Length).Distinct().Order()];
        }

        /// <summary>Tries the patterns whose key <paramref name="component"/> has.</summary>
        public bool AnyMatch(string path, ReadOnlySpan<int> starts, ReadOnlySpan<char> component)
        {
            if (_nameLookup.TryGetValue(component, out var named) && AnyMatch(named, path, starts))
                return true;
            foreach (var length in _endingLengths)
            {
                if (length > component.Length)
                    break;
                if (_endingLookup.TryGetValue(component[^length..], out var ending) && AnyMatch(ending, path, starts))
                    return true;
            }
            foreach (var length in _beginningLengths)
            {
                if (length > component.Length)
                    break;
                if (_beginningLookup.TryGetValue(component[..length], out var beginning) && AnyMatch(beginning, path, starts))
                    return true;
            }
            return false;
        }

        private static bool AnyMatch(List<GlobPattern> patterns, string path, ReadOnlySpan<int> starts)
        {
            foreach (var pattern in patterns)
            {
                if (pattern.IsMatch(path, starts))
                    return true;
            }
            return false;
        }
    }
}
