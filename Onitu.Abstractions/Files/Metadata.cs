namespace Onitu;

/// <summary>
/// What Onitu knows of one file as one service sees it: where it is (folder and relative path, hence its fid),
/// how big it is, its media type, the driver's own revision and the driver's private per-file data.
/// </summary>
/// <remarks>
/// The engine hands a driver a fresh <see cref="Metadata"/> for every call; a handler may set
/// <see cref="Revision"/>, <see cref="Size"/>, <see cref="ModifiedAt"/> and <see cref="Extra"/> (for instance in
/// <see cref="IChunkedWriter.EndUploadAsync"/> or <see cref="IDriver.UploadFileAsync"/>) and the engine
/// persists them for that service when the call returns, as <c>metadata.write_revision()</c> did in the seed.
/// </remarks>
public sealed class Metadata
{
    /// <summary>Creates the metadata of the file at <paramref name="path"/> in <paramref name="folder"/>.</summary>
    /// <param name="folder">The folder name from the setup.</param>
    /// <param name="path">The path relative to the folder; it is normalized (see <see cref="FilePath.Normalize"/>).</param>
    public Metadata(string folder, string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Folder = folder;
        Path = FilePath.Normalize(path);
    }

    // Fid, media type and extra data are made when first asked for: a scan lists every known file and looks at most
    // of them only for their revision (the fid's SHA-1 was a sixth of the CPU of an unchanged pass).
    private Guid _fid;
    private volatile bool _hasFid;
    private string? _mimeType;
    private Dictionary<string, string>? _extra;

    /// <summary>The file id: a UUIDv5 of folder and path (see <see cref="FileId"/>).</summary>
    public Guid Fid
    {
        get
        {
            if (!_hasFid)
            {
                _fid = FileId.Compute(Folder, Path);
                _hasFid = true;
            }
            return _fid;
        }
    }

    /// <summary>The folder the file belongs to.</summary>
    public string Folder { get; }

    /// <summary>The path relative to the folder, <c>/</c>-separated.</summary>
    public string Path { get; }

    /// <summary>The media type guessed from the name (see <see cref="MimeTypes"/>).</summary>
    public string MimeType => _mimeType ??= MimeTypes.Guess(Path);

    /// <summary>The size in bytes.</summary>
    public long Size { get; set; }

    /// <summary>
    /// The driver's revision of this file on its service: any string that changes whenever the content changes
    /// (an mtime and size, an etag, a version id). <see langword="null"/> while the service does not hold the file.
    /// </summary>
    public string? Revision { get; set; }

    /// <summary>When the content was last written, if the store knows; it decides which write is "later" in a conflict.</summary>
    public DateTimeOffset? ModifiedAt { get; set; }

    /// <summary>Per-file data the driver keeps for this service (an upload id, a cursor); persisted by the engine.</summary>
    public IDictionary<string, string> Extra =>
        _extra ?? Interlocked.CompareExchange(ref _extra, new Dictionary<string, string>(StringComparer.Ordinal), null) ?? _extra;

    /// <inheritdoc />
    public override string ToString() => $"{Folder}:{Path}";
}
