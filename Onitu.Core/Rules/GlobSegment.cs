namespace Onitu.Rules;

/// <summary>
/// One <c>/</c>-free segment of a glob (<c>*.tmp</c>, <c>[Tt]emp?</c>), matched against one component of a path.
/// </summary>
/// <remarks>
/// Semantics (those of <see cref="Glob"/>): <c>*</c> any run of UTF-16 units; <c>?</c> one unit or one surrogate pair;
/// a class one unit (never <c>/</c>); <c>\x</c> the literal <c>x</c>; an unterminated <c>[</c> a literal. The common
/// shapes (a literal, <c>*lit</c>, <c>lit*</c>, <c>*</c>) are compared directly; others run a small NFA over the token
/// list, linear in the component's length times the segment's length, without backtracking or allocation for
/// segments of up to 256 tokens.
/// </remarks>
internal sealed class GlobSegment
{
    private const int StackLimit = 256;

    private readonly Token[] _tokens;
    private readonly Shape _shape;

    private GlobSegment(Token[] tokens)
    {
        _tokens = tokens;
        var head = 0;
        while (head < tokens.Length && tokens[head].Kind == TokenKind.Char)
            head++;
        var tail = 0;
        while (tail < tokens.Length && tokens[^(tail + 1)].Kind == TokenKind.Char)
            tail++;
        LiteralHead = Chars(tokens.AsSpan(0, head));
        LiteralTail = Chars(tokens.AsSpan(tokens.Length - tail));
        _shape = head == tokens.Length ? Shape.Literal
            : tokens.Length == 1 && tokens[0].Kind == TokenKind.Star ? Shape.Everything
            : head == 0 && tail == tokens.Length - 1 && tokens[0].Kind == TokenKind.Star ? Shape.StarThenLiteral
            : tail == 0 && head == tokens.Length - 1 && tokens[^1].Kind == TokenKind.Star ? Shape.LiteralThenStar
            : Shape.General;
    }

    private enum Shape { Literal, Everything, StarThenLiteral, LiteralThenStar, General }

    private enum TokenKind : byte { Char, Star, Question, Class }

    /// <summary>Whether the segment is made of literal characters only (then <see cref="LiteralHead"/> is all of it).</summary>
    public bool IsLiteral => _shape == Shape.Literal;

    /// <summary>The literal characters every match starts with (empty when the segment starts with a wildcard).</summary>
    public string LiteralHead { get; }

    /// <summary>The literal characters every match ends with (empty when the segment ends with a wildcard).</summary>
    public string LiteralTail { get; }

    /// <summary>
    /// The beginnings one of which every match starts with, reading through small bracket classes (<c>[Tt]emp*</c>
    /// gives <c>Temp</c> and <c>temp</c>), at most <paramref name="limit"/> of them, all of the same length; empty
    /// when the segment starts with another wildcard.
    /// </summary>
    public IReadOnlyList<string> HeadAlternatives(int limit)
    {
        List<string> heads = [""];
        foreach (var token in _tokens)
        {
            if (token.Kind == TokenKind.Char)
            {
                for (var i = 0; i < heads.Count; i++)
                    heads[i] += token.Char;
                continue;
            }
            if (token.Kind != TokenKind.Class || token.Class!.Members(limit / heads.Count) is not { } members)
                break;
            heads = [.. heads.SelectMany(head => members.Select(member => head + member))];
        }
        return heads[0].Length == 0 ? [] : heads;
    }

    /// <summary>Parses one segment of <paramref name="pattern"/>; throws <see cref="FormatException"/> for a reversed range.</summary>
    public static GlobSegment Parse(string segment, string pattern)
    {
        var tokens = new List<Token>(segment.Length);
        for (var i = 0; i < segment.Length; i++)
        {
            var c = segment[i];
            switch (c)
            {
                case '*':
                    while (i + 1 < segment.Length && segment[i + 1] == '*')
                        i++;
                    tokens.Add(new Token(TokenKind.Star, '\0', null));
                    break;
                case '?':
                    tokens.Add(new Token(TokenKind.Question, '\0', null));
                    break;
                case '[':
                    var close = ParseClass(segment, i, pattern, out var characterClass);
                    tokens.Add(characterClass is null ? new Token(TokenKind.Char, '[', null) : new Token(TokenKind.Class, '\0', characterClass));
                    i = close;
                    break;
                case '\\' when i + 1 < segment.Length:
                    i++;
                    tokens.Add(new Token(TokenKind.Char, segment[i], null));
                    break;
                default:
                    tokens.Add(new Token(TokenKind.Char, c, null));
                    break;
            }
        }
        return new GlobSegment([.. tokens]);
    }

    /// <summary>
    /// Parses the class starting at <paramref name="start"/> (a '[') and returns the index of its ']', or
    /// <paramref name="start"/> with a null class when it is unterminated (then the '[' is a plain character, as in the shell).
    /// </summary>
    private static int ParseClass(string segment, int start, string pattern, out CharClass? characterClass)
    {
        characterClass = null;
        var i = start + 1;
        var negated = i < segment.Length && segment[i] is '!' or '^';
        if (negated)
            i++;
        // A ']' right after '[' or '[!' is a member, not the end.
        var close = segment.IndexOf(']', i < segment.Length && segment[i] == ']' ? i + 1 : i);
        if (close < 0)
            return start;
        var ranges = new List<char>();
        for (; i < close; i++)
        {
            var low = segment[i];
            var high = low;
            if (i + 2 < close && segment[i + 1] == '-')
            {
                high = segment[i + 2];
                if (high < low)
                    throw new FormatException($"The pattern '{pattern}' has the reversed range '{low}-{high}'.");
                i += 2;
            }
            ranges.Add(low);
            ranges.Add(high);
        }
        characterClass = new CharClass([.. ranges], negated);
        return close;
    }

    /// <summary>Returns whether the whole of <paramref name="component"/> matches the segment.</summary>
    public bool IsMatch(ReadOnlySpan<char> component) => _shape switch
    {
        Shape.Literal => component.SequenceEqual(LiteralHead),
        Shape.Everything => true,
        Shape.StarThenLiteral => component.EndsWith(LiteralTail, StringComparison.Ordinal),
        Shape.LiteralThenStar => component.StartsWith(LiteralHead, StringComparison.Ordinal),
        _ => IsMatchGeneral(component),
    };

    private bool IsMatchGeneral(ReadOnlySpan<char> component)
    {
        var tokens = _tokens;
        var count = tokens.Length;
        if (component.Length < LiteralHead.Length + LiteralTail.Length
            || !component.StartsWith(LiteralHead, StringComparison.Ordinal) || !component.EndsWith(LiteralTail, StringComparison.Ordinal))
            return false;

        // state[k]: the tokens before k have matched the characters read so far; half[k]: token k is a '?' that has
        // read the high half of a surrogate pair and may take its low half.
        var width = count + 1;
        Span<bool> buffer = count <= StackLimit ? stackalloc bool[width * 4] : new bool[width * 4];
        var state = buffer[..width];
        var half = buffer.Slice(width, width);
        var next = buffer.Slice(width * 2, width);
        var nextHalf = buffer.Slice(width * 3, width);
        state[0] = true;
        Close(state, tokens);
        foreach (var c in component)
        {
            next.Clear();
            nextHalf.Clear();
            var any = false;
            for (var k = 0; k < count; k++)
            {
                if (half[k] && char.IsLowSurrogate(c))
                    any = next[k + 1] = true;
                if (!state[k])
                    continue;
                var token = tokens[k];
                switch (token.Kind)
                {
                    case TokenKind.Char when token.Char == c:
                        any = next[k + 1] = true;
                        break;
                    case TokenKind.Star when c != '/':
                        any = next[k] = true;
                        break;
                    case TokenKind.Question when c != '/':
                        any = next[k + 1] = true;
                        if (char.IsHighSurrogate(c))
                            nextHalf[k] = true;
                        break;
                    case TokenKind.Class when token.Class!.Contains(c):
                        any = next[k + 1] = true;
                        break;
                }
            }
            if (!any)
                return false;
            Close(next, tokens);
            next.CopyTo(state);
            nextHalf.CopyTo(half);
        }
        return state[count];
    }

    /// <summary>Adds the states reached without reading: a '*' may match nothing.</summary>
    private static void Close(Span<bool> state, Token[] tokens)
    {
        for (var k = 0; k < tokens.Length; k++)
        {
            if (state[k] && tokens[k].Kind == TokenKind.Star)
                state[k + 1] = true;
        }
    }

    private static string Chars(ReadOnlySpan<Token> tokens)
    {
        var chars = new char[tokens.Length];
        for (var i = 0; i < chars.Length; i++)
            chars[i] = tokens[i].Char;
        return new string(chars);
    }

    private readonly record struct Token(TokenKind Kind, char Char, CharClass? Class);

    /// <summary>A bracket class: inclusive UTF-16 ranges (low, high pairs), possibly negated; never matches '/'.</summary>
    private sealed class CharClass(char[] ranges, bool negated)
    {
        /// <summary>The characters the class matches, or <see langword="null"/> when it is negated or has more than <paramref name="max"/>.</summary>
        public char[]? Members(int max)
        {
            if (negated)
                return null;
            var members = new SortedSet<char>();
            for (var i = 0; i < ranges.Length; i += 2)
            {
                if (ranges[i + 1] - ranges[i] >= max)
                    return null;
                for (var c = ranges[i]; c <= ranges[i + 1]; c++)
                {
                    if (c != '/')
                        members.Add(c);
                    if (c == char.MaxValue)
                        break;
                }
                if (members.Count > max)
                    return null;
            }
            return members.Count == 0 ? null : [.. members];
        }

        public bool Contains(char c)
        {
            if (c == '/')
                return false;
            var member = false;
            for (var i = 0; i < ranges.Length; i += 2)
            {
                if (c >= ranges[i] && c <= ranges[i + 1])
                {
                    member = true;
                    break;
                }
            }
            return member != negated;
        }
    }
}
