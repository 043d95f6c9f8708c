using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Onitu.Setup;

/// <summary>
/// Passes YAML parsing events through to the representation model, renaming every repeated mapping key so the
/// document still loads (the model would stop at the first one) and recording it, so that a duplicate is reported
/// with all the other problems of the file.
/// </summary>
internal sealed class DuplicateKeyCheckingParser(IParser inner, CancellationToken cancellationToken = default) : IParser
{
    /// <summary>Renamed duplicate keys start with this; readers skip such keys.</summary>
    public const string RenamedKeyPrefix = "\0duplicate:";

    private readonly Stack<Frame> _frames = new();
    private readonly List<DuplicateKey> _duplicates = [];
    private ParsingEvent? _current;
    private int _renamed;

    /// <summary>The repeated keys found so far.</summary>
    public IReadOnlyList<DuplicateKey> Duplicates => _duplicates;

    /// <summary>The 1-based line of the last event read, for errors the parser reports without a position.</summary>
    public int LastLine { get; private set; }

    /// <inheritdoc />
    public ParsingEvent? Current => _current;

    /// <inheritdoc />
    public bool MoveNext()
    {
        // Parsing is where a large setup spends its time: a Ctrl+C stops it between two events.
        cancellationToken.ThrowIfCancellationRequested();
        if (!inner.MoveNext())
        {
            _current = null;
            return false;
        }
        var parsingEvent = inner.Current!;
        LastLine = (int)parsingEvent.Start.Line;
        _current = parsingEvent;
        var top = _frames.Count > 0 ? _frames.Peek() : null;

        switch (parsingEvent)
        {
            case Scalar scalar when top is { IsMapping: true, ExpectingKey: true }:
                top.ExpectingKey = false;
                top.CurrentKey = scalar.Value;
                if (top.Keys.TryGetValue(scalar.Value, out var firstLine))
                {
                    _duplicates.Add(new DuplicateKey(Join(top.Path, scalar.Value), scalar.Value, (int)scalar.Start.Line, firstLine));
                    _current = new Scalar(scalar.Anchor, scalar.Tag, RenamedKeyPrefix + (++_renamed) + ":" + scalar.Value, scalar.Style,
                        scalar.IsPlainImplicit, scalar.IsQuotedImplicit, scalar.Start, scalar.End, scalar.IsKey);
                }
                else
                {
                    top.Keys[scalar.Value] = (int)scalar.Start.Line;
                }
                break;
            case Scalar or AnchorAlias:
                ChildPath(top);
                break;
            case MappingStart:
                _frames.Push(new Frame(isMapping: true, ChildPath(top)));
                break;
            case SequenceStart:
                _frames.Push(new Frame(isMapping: false, ChildPath(top)));
                break;
            case MappingEnd or SequenceEnd:
                _frames.Pop();
                break;
        }
        return true;
    }

    /// <summary>Returns the key path of a node starting now, and moves its parent past it.</summary>
    private static string ChildPath(Frame? parent)
    {
        if (parent is null)
            return string.Empty;
        if (!parent.IsMapping)
            return $"{parent.Path}[{parent.Index++}]";
        if (parent.ExpectingKey) // a complex key: a mapping or a sequence used as a key
        {
            parent.ExpectingKey = false;
            parent.CurrentKey = "?";
            return Join(parent.Path, "?");
        }
        parent.ExpectingKey = true;
        return Join(parent.Path, parent.CurrentKey);
    }

    private static string Join(string path, string key) => path.Length == 0 ? key : path + "." + key;

    private sealed class Frame(bool isMapping, string path)
    {
        public bool IsMapping { get; } = isMapping;
        public string Path { get; } = path;
        public bool ExpectingKey { get; set; } = true;
        public string CurrentKey { get; set; } = string.Empty;
        public int Index { get; set; }
        public Dictionary<string, int> Keys { get; } = new(StringComparer.Ordinal);
    }
}

/// <summary>A key written twice in the same mapping.</summary>
/// <param name="Path">The key path of the repeated key.</param>
/// <param name="Key">The key.</param>
/// <param name="Line">The line of the repetition.</param>
/// <param name="FirstLine">The line where the key first appears.</param>
internal sealed record DuplicateKey(string Path, string Key, int Line, int FirstLine);
