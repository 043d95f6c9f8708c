namespace Onitu.State;

/// <summary>
/// The current version of a file (a row of <c>files</c>); <see cref="Hash"/> is its content hash once computed
/// (<see cref="Onitu.Sync.ContentIdentity"/>).
/// </summary>
internal sealed record FileRecord(
    Guid Fid, string Folder, string Path, long Size, string MimeType, long Version, string Origin,
    DateTimeOffset? ModifiedAt, bool Deleted, string? Hash = null);

/// <summary>
/// What one service holds of one file (a row of <c>replicas</c>). <see cref="Racy"/>: the revision was recorded
/// within the store's timestamp resolution of the file's last write, so the next scan checks the content by hash
/// (see <see cref="ITimestampResolution"/>).
/// </summary>
internal sealed record ReplicaRecord(Guid Fid, string Service, long Version, string? Revision, string? Extra, bool Racy = false)
{
    /// <summary>Whether the service holds some content of the file.</summary>
    public bool Holds => Revision is not null;
}

/// <summary>What a job does to its target.</summary>
internal enum JobKind
{
    /// <summary>Write the file's current content to the target.</summary>
    Upload = 0,
    /// <summary>Delete the file from the target.</summary>
    Delete = 1,
    /// <summary>Move the target's copy of another fid (<see cref="JobRecord.MoveFrom"/>) to this file's path.</summary>
    Move = 2,
    /// <summary>
    /// Drop the partial file an upload left on the target (<see cref="IChunkedWriter.AbortUploadAsync"/>): what a
    /// started upload becomes when it is no longer wanted, so its partial file does not stay behind.
    /// </summary>
    AbortUpload = 3,
}

/// <summary>A persisted unit of work (a row of <c>jobs</c>).</summary>
internal sealed record JobRecord(
    long Id, Guid Fid, string Target, JobKind Kind, long Version, long Offset, bool Started, int ChunkSize,
    Guid? MoveFrom, string? PreserveAs, int Attempts, DateTimeOffset NotBefore, string? LastError);
