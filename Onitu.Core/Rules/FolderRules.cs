using System.Globalization;
using System.Text;

namespace Onitu.Rules;

/// <summary>
/// The seed's folder options: which files a folder accepts on a service and whether the service reads or writes it.
/// The same options appear at two levels of a setup: under <c>folders.&lt;folder&gt;</c> (for every service) and
/// under <c>services.&lt;service&gt;.folders.&lt;folder&gt;</c> (for one service); <see cref="MergeWith"/> combines them.
/// </summary>
/// <remarks>
/// An empty list means "not set": an empty <see cref="Types"/> accepts every type and an empty
/// <see cref="Whitelist"/> is not used (seed: "the whitelist isn't used if not specified or empty").
/// Instances are immutable and thread-safe; <see cref="Accepts"/> compiles the globs on first use and caches them.
/// </remarks>
public sealed record FolderRules
{
    private readonly IReadOnlyList<string> _types = [];
    private readonly IReadOnlyList<string> _blacklist = [];
    private readonly IReadOnlyList<string> _whitelist = [];
    private CompiledPatterns? _compiled; // reset by every init of a list, so `with` never keeps stale matchers

    /// <summary>Rules that set nothing: every file is accepted, the mode is left to the other level.</summary>
    public static FolderRules Empty { get; } = new();

    /// <summary>
    /// Whether the service reads (<c>r</c>) and/or writes (<c>w</c>) the folder; <see langword="null"/> when not set.
    /// When no level sets it, the effective mode is <see cref="AccessMode.ReadWrite"/> (see <see cref="EffectiveMode"/>).
    /// </summary>
    public AccessMode? Mode { get; init; }

    /// <summary>Accepted media types (<c>image/png</c>, <c>audio/*</c>, <c>audio</c>); empty accepts all types.</summary>
    public IReadOnlyList<string> Types
    {
        get => _types;
        init { _types = value ?? []; _compiled = null; }
    }

    /// <summary>The smallest accepted size in bytes (inclusive), or <see langword="null"/> for no lower bound.</summary>
    public long? MinSize { get; init; }

    /// <summary>The largest accepted size in bytes (inclusive), or <see langword="null"/> for no upper bound.</summary>
    public long? MaxSize { get; init; }

    /// <summary>Globs (see <see cref="Glob"/>) of paths that are never accepted.</summary>
    public IReadOnlyList<string> Blacklist
    {
        get => _blacklist;
        init { _blacklist = value ?? []; _compiled = null; }
    }

    /// <summary>Globs of the only paths accepted; empty means the whitelist is not used.</summary>
    public IReadOnlyList<string> Whitelist
    {
        get => _whitelist;
        init { _whitelist = value ?? []; _compiled = null; }
    }

    /// <summary>
    /// How many files one scan may find deleted before nothing of it is propagated (<c>max-delete</c>);
    /// <see langword="null"/> when not set (the engine's default applies).
    /// </summary>
    public DeletionLimit? MaxDelete { get; init; }

    /// <summary>The mode to apply: <see cref="Mode"/>, or <see cref="AccessMode.ReadWrite"/> when it is not set.</summary>
    public AccessMode EffectiveMode => Mode ?? AccessModes.Default;

    /// <summary>
    /// Returns the rules in effect when <paramref name="moreSpecific"/> (a service's options for this folder) refines
    /// these (the folder's options).
    /// </summary>
    /// <remarks>
    /// <list type="bullet">
    /// <item><see cref="Mode"/>, <see cref="MinSize"/>, <see cref="MaxSize"/> and <see cref="MaxDelete"/>: the more specific value when it is
    /// set, else this one.</item>
    /// <item><see cref="Types"/> and <see cref="Whitelist"/>: the more specific list when it is non-empty (it
    /// replaces this one, it does not add to it), else this one. To accept every type or path on one service of a
    /// restricted folder, write <c>type: ["*"]</c> or <c>whitelist: ["**"]</c> there.</item>
    /// <item><see cref="Blacklist"/>: the union of both, this one's patterns first. A folder-wide blacklist can never
    /// be undone by a service.</item>
    /// </list>
    /// </remarks>
    public FolderRules MergeWith(FolderRules moreSpecific)
    {
        ArgumentNullException.ThrowIfNull(moreSpecific);
        if (ReferenceEquals(moreSpecific, Empty) || moreSpecific == Empty)
            return this;
        if (this == Empty)
            return moreSpecific;
        return new FolderRules
        {
            Mode = moreSpecific.Mode ?? Mode,
            Types = moreSpecific.Types.Count > 0 ? moreSpecific.Types : Types,
            MinSize = moreSpecific.MinSize ?? MinSize,
            MaxSize = moreSpecific.MaxSize ?? MaxSize,
            Blacklist = moreSpecific.Blacklist.Count == 0 ? Blacklist
                : Blacklist.Count == 0 ? moreSpecific.Blacklist
                : [.. Blacklist.Concat(moreSpecific.Blacklist).Distinct(StringComparer.Ordinal)],
            Whitelist = moreSpecific.Whitelist.Count > 0 ? moreSpecific.Whitelist : Whitelist,
            MaxDelete = moreSpecific.MaxDelete ?? MaxDelete,
        };
    }

    /// <summary>
    /// Returns whether a file passes these rules: its type matches one of <see cref="Types"/> (if any),
    /// <see cref="MinSize"/> ≤ <paramref name="size"/> ≤ <see cref="MaxSize"/>, no <see cref="Blacklist"/> pattern
    /// matches its path and, when <see cref="Whitelist"/> is not empty, one of its patterns does. The mode is not
    /// considered.
    /// </summary>
    /// <param name="path">The path relative to the folder, <c>/</c>-separated.</param>
    /// <param name="size">The size in bytes.</param>
    /// <param name="mimeType">The file's media type (see <see cref="MimeTypes"/>).</param>
    /// <exception cref="FormatException">A glob of the rules is not valid (setups loaded by <c>SetupLoader</c> never have one).</exception>
    public bool Accepts(string path, long size, string mimeType)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(mimeType);
        return AcceptsNormalized(Glob.NormalizePath(path), size, mimeType);
    }

    /// <summary><see cref="Accepts"/> for a path already in <see cref="Glob.NormalizePath"/> form.</summary>
    internal bool AcceptsNormalized(string path, long size, string mimeType)
    {
        if (size < MinSize || size > MaxSize) // lifted comparisons: false when the bound is not set
            return false;
        if (_types.Count > 0 && !MatchesType(mimeType))
            return false;
        if (_blacklist.Count == 0 && _whitelist.Count == 0)
            return true;
        var compiled = _compiled ??= new CompiledPatterns(_blacklist, _whitelist);
        if (compiled.Blacklist?.IsMatch(path) == true)
            return false;
        return compiled.Whitelist?.IsMatch(path) != false;
    }

    private bool MatchesType(string mimeType)
    {
        foreach (var type in _types)
        {
            if (MediaTypePattern.IsMatch(type, mimeType))
                return true;
        }
        return false;
    }

    /// <summary>Compares the rules by value, lists included.</summary>
    public bool Equals(FolderRules? other) =>
        other is not null
        && Mode == other.Mode && MinSize == other.MinSize && MaxSize == other.MaxSize && MaxDelete == other.MaxDelete
        && _types.SequenceEqual(other._types, StringComparer.Ordinal)
        && _blacklist.SequenceEqual(other._blacklist, StringComparer.Ordinal)
        && _whitelist.SequenceEqual(other._whitelist, StringComparer.Ordinal);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Mode);
        hash.Add(MinSize);
        hash.Add(MaxSize);
        hash.Add(MaxDelete);
        foreach (var list in (IReadOnlyList<string>[])[_types, _blacklist, _whitelist])
        {
            hash.Add(list.Count);
            foreach (var item in list)
                hash.Add(item, StringComparer.Ordinal);
        }
        return hash.ToHashCode();
    }

    /// <summary>Shows the options that are set, in the setup's spelling.</summary>
    public override string ToString()
    {
        var text = new StringBuilder("{");
        void Add(string key, string value)
        {
            if (text.Length > 1)
                text.Append(", ");
            text.Append(key).Append(": ").Append(value);
        }
        static string List(IReadOnlyList<string> items) => "[" + string.Join(", ", items) + "]";
        if (Mode is { } mode)
            Add("mode", "'" + mode.ToSetupString() + "'");
        if (_types.Count > 0)
            Add("type", List(_types));
        if (MinSize is { } min)
            Add("min-size", min.ToString(CultureInfo.InvariantCulture));
        if (MaxSize is { } max)
            Add("max-size", max.ToString(CultureInfo.InvariantCulture));
        if (_blacklist.Count > 0)
            Add("blacklist", List(_blacklist));
        if (_whitelist.Count > 0)
            Add("whitelist", List(_whitelist));
        if (MaxDelete is { } maxDelete)
            Add("max-delete", maxDelete.ToString());
        return text.Append('}').ToString();
    }

    private sealed class CompiledPatterns(IReadOnlyList<string> blacklist, IReadOnlyList<string> whitelist)
    {
        public GlobSet? Blacklist { get; } = blacklist.Count > 0 ? Glob.CompileAny(blacklist) : null;

        public GlobSet? Whitelist { get; } = whitelist.Count > 0 ? Glob.CompileAny(whitelist) : null;
    }
}
