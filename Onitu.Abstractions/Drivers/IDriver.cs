namespace Onitu;

/// <summary>
/// A driver bound to one service: the junction between Onitu and one store (a local disk, an SSH server, a cloud).
/// Every driver reads and writes whole files as streams, deletes, and reports what changes on its side through
/// its <see cref="IPlug"/>. Optional capabilities are further interfaces it may implement:
/// <see cref="IChunkedReader"/>, <see cref="IChunkedWriter"/>, <see cref="INativeMove"/>, <see cref="INativeCopy"/>,
/// <see cref="IFileStat"/>, <see cref="ITimestampResolution"/> and <see cref="ITransferConcurrency"/>.
/// </summary>
/// <remarks>
/// <para><b>Every member may be called concurrently from many threads</b>, for different files and for the same
/// file, as the seed warned of handlers; a driver must be thread-safe.</para>
/// <para>The seed's <c>start()</c> + <c>plug.listen()</c> is split in two so that a one-shot sync can stop after
/// the scan: the engine calls <see cref="ScanAsync"/> once, then <see cref="WatchAsync"/> until it stops.</para>
/// <para>Handlers receive a <see cref="Metadata"/> whose <see cref="Metadata.Revision"/> is the revision the engine
/// believes this service holds (or <see langword="null"/>). A handler that writes or deletes must not destroy a
/// version the engine has not seen: if the file on the store no longer has that revision, it reports the change
/// through <see cref="IPlug.UpdateFileAsync"/> and throws <see cref="ContentChangedException"/>.</para>
/// <para>Errors: throw <see cref="ServiceException"/> when the store failed (say whether it is transient) and
/// <see cref="DriverException"/> when the driver is misconfigured or broken.</para>
/// </remarks>
public interface IDriver : IAsyncDisposable
{
    /// <summary>
    /// Looks for what changed on the store since the engine last knew it — new, changed, deleted and moved files,
    /// including changes made while Onitu was stopped — and reports each through the plug. Returns when done.
    /// </summary>
    /// <remarks>
    /// A store that cannot be listed (a missing root, an unmounted disk) must throw rather than report every file
    /// as deleted: an empty listing is not permission to delete everything everywhere.
    /// </remarks>
    Task ScanAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Watches the store and reports changes through the plug until <paramref name="cancellationToken"/> fires
    /// (by notification where the store has them, else by polling). Called after <see cref="ScanAsync"/>.
    /// </summary>
    Task WatchAsync(CancellationToken cancellationToken);

    /// <summary>Opens the whole content of a file for reading (the seed's <c>get_file</c>).</summary>
    /// <exception cref="RemoteFileNotFoundException">The file is not on the store.</exception>
    ValueTask<Stream> OpenReadAsync(Metadata metadata, CancellationToken cancellationToken);

    /// <summary>
    /// Writes the whole content of a file from a stream (the seed's <c>upload_file</c>). The new content must
    /// become visible atomically (write elsewhere, then rename), never half-written. Sets
    /// <see cref="Metadata.Revision"/> to the revision of what was written, so that the driver's own write is not
    /// reported back as a change. Read <paramref name="content"/> with <c>ReadAsync</c> or <c>CopyToAsync</c> only:
    /// it may come from a network store (SFTP) whose stream has no synchronous read (the conformance kit checks this).
    /// </summary>
    ValueTask UploadFileAsync(Metadata metadata, Stream content, CancellationToken cancellationToken);

    /// <summary>Deletes a file (and the directories it leaves empty). Deleting a missing file is not an error.</summary>
    ValueTask DeleteFileAsync(Metadata metadata, CancellationToken cancellationToken);
}

/// <summary>A driver that reads parts of a file at an offset (the seed's <c>get_chunk</c>).</summary>
public interface IChunkedReader
{
    /// <summary>
    /// Reads up to <paramref name="buffer"/>'s length bytes at <paramref name="offset"/>; returns how many bytes
    /// were read, fewer only at the end of the file.
    /// </summary>
    ValueTask<int> ReadChunkAsync(Metadata metadata, long offset, Memory<byte> buffer, CancellationToken cancellationToken);
}

/// <summary>
/// A driver that receives a file chunk by chunk, so that a transfer interrupted by a crash resumes at its last
/// chunk instead of starting over. The engine calls <see cref="StartUploadAsync"/> (or
/// <see cref="RestartUploadAsync"/>), then <see cref="UploadChunkAsync"/> in order, then
/// <see cref="EndUploadAsync"/>, or <see cref="AbortUploadAsync"/> when the transfer is abandoned.
/// </summary>
public interface IChunkedWriter
{
    /// <summary>
    /// Returns the chunk size to use, given the engine's (the seed's <c>set_chunk_size</c>): a store with a
    /// minimum part size answers at least that.
    /// </summary>
    int NegotiateChunkSize(int proposedChunkSize);

    /// <summary>Begins a new upload of the file (the seed's <c>start_upload</c>).</summary>
    ValueTask StartUploadAsync(Metadata metadata, CancellationToken cancellationToken);

    /// <summary>
    /// Resumes an upload interrupted after <paramref name="offset"/> bytes (the seed's <c>restart_upload</c>);
    /// bytes past the offset, if any, are discarded.
    /// </summary>
    /// <exception cref="UploadNotResumableException">The partial upload is gone; the engine starts over.</exception>
    ValueTask RestartUploadAsync(Metadata metadata, long offset, CancellationToken cancellationToken);

    /// <summary>Writes <paramref name="chunk"/> at <paramref name="offset"/> of the upload in progress.</summary>
    ValueTask UploadChunkAsync(Metadata metadata, long offset, ReadOnlyMemory<byte> chunk, CancellationToken cancellationToken);

    /// <summary>
    /// Completes the upload: the file appears with its new content atomically. Sets <see cref="Metadata.Revision"/>
    /// to the revision written (the seed's <c>metadata.write_revision()</c>).
    /// </summary>
    ValueTask EndUploadAsync(Metadata metadata, CancellationToken cancellationToken);

    /// <summary>Abandons the upload in progress and removes what it left; the file keeps its previous content.</summary>
    ValueTask AbortUploadAsync(Metadata metadata, CancellationToken cancellationToken);
}

/// <summary>A driver that can move or rename a file within its store without copying its content.</summary>
public interface INativeMove
{
    /// <summary>
    /// Moves <paramref name="source"/> to <paramref name="destination"/> (possibly in another folder of the same
    /// service), creating directories as needed. Sets the destination's <see cref="Metadata.Revision"/>.
    /// </summary>
    /// <exception cref="RemoteFileNotFoundException">The source is not there any more.</exception>
    ValueTask MoveFileAsync(Metadata source, Metadata destination, CancellationToken cancellationToken);
}

/// <summary>
/// A driver that copies a file from another service of a store it can reach directly (another folder of the same
/// disk, another bucket of the same cloud) without the bytes passing through the engine: rclone's server-side copy.
/// The engine prefers it to streaming when <see cref="CanCopyFrom"/> says yes and no bandwidth limit applies.
/// </summary>
public interface INativeCopy
{
    /// <summary>Whether this driver can copy directly from <paramref name="source"/>'s store.</summary>
    bool CanCopyFrom(IDriver source);

    /// <summary>
    /// Copies <paramref name="sourceMetadata"/> from <paramref name="source"/> to <paramref name="destination"/> on
    /// this driver's store, with the guarantees of <see cref="IDriver.UploadFileAsync"/>: the new content appears
    /// atomically, a destination changed since <see cref="Metadata.Revision"/> is not overwritten
    /// (<see cref="ContentChangedException"/>), and the destination's revision is set to what was written.
    /// </summary>
    /// <exception cref="RemoteFileNotFoundException">The source file is gone.</exception>
    ValueTask CopyFromAsync(IDriver source, Metadata sourceMetadata, Metadata destination, CancellationToken cancellationToken);
}
