using System.Text.Json.Serialization;

namespace Onitu;

/// <summary>A file Onitu knows, with where it is.</summary>
/// <param name="Fid">The file id (UUIDv5 of folder and path).</param>
/// <param name="Folder">The folder.</param>
/// <param name="Path">The path relative to the folder, <c>/</c>-separated.</param>
/// <param name="Size">The current version's size in bytes.</param>
/// <param name="MimeType">The media type.</param>
/// <param name="ModifiedAt">When the current content was written, when known.</param>
/// <param name="Origin">The service that produced the current version.</param>
/// <param name="Owners">The services holding some version of it or due to receive it.</param>
/// <param name="UpToDate">The services holding the current version.</param>
public sealed record FileEntry(Guid Fid, string Folder, string Path, long Size, string MimeType, DateTimeOffset? ModifiedAt,
    string Origin, IReadOnlyList<string> Owners, IReadOnlyList<string> UpToDate);

/// <summary>What a transfer does to its target.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TransferKind>))]
public enum TransferKind
{
    /// <summary>Writes the file's current content.</summary>
    Upload,
    /// <summary>Deletes the file.</summary>
    Delete,
    /// <summary>Moves the target's copy of the file's old path to its new one.</summary>
    Move,
}

/// <summary>A persisted transfer (a job), pending or in flight.</summary>
/// <param name="Fid">The file.</param>
/// <param name="Folder">The file's folder.</param>
/// <param name="Path">The file's path.</param>
/// <param name="Size">The file's size.</param>
/// <param name="Kind">What the job does.</param>
/// <param name="Origin">The service that produced the version being sent (the engine reads it from the fastest ready holder).</param>
/// <param name="Target">The service receiving it.</param>
/// <param name="Offset">Bytes written and acknowledged so far (chunked uploads).</param>
/// <param name="Attempts">Failed attempts so far.</param>
/// <param name="LastError">The last failure, if any.</param>
/// <param name="NotBefore">When it is retried, after a failure.</param>
/// <param name="Active">Whether it runs now.</param>
public sealed record TransferEntry(Guid Fid, string Folder, string Path, long Size, TransferKind Kind, string Origin, string Target,
    long Offset, int Attempts, string? LastError, DateTimeOffset? NotBefore, bool Active);

/// <summary>What one service holds and did.</summary>
/// <param name="Name">The service.</param>
/// <param name="Driver">Its driver id.</param>
/// <param name="State">Its state.</param>
/// <param name="Reason">Why it is failing, when it is.</param>
/// <param name="StateSince">When it entered its state.</param>
/// <param name="RunningSince">When it last started, or null while it is stopped.</param>
/// <param name="Files">Files it holds the current version of.</param>
/// <param name="Bytes">Their total size.</param>
/// <param name="PendingTransfers">Jobs waiting to write to it.</param>
/// <param name="BytesWritten">Bytes written to it since the engine was created.</param>
/// <param name="TransfersDone">Uploads, deletions and moves done on it since the engine was created.</param>
/// <param name="TransfersFailed">Failed attempts of those.</param>
/// <param name="Rate">Bytes per second written to it over the last ten seconds.</param>
/// <param name="LastError">The last failure of a transfer to it or of the service itself.</param>
/// <param name="LastErrorAt">When that was.</param>
public sealed record ServiceStatistics(string Name, string Driver, ServiceState State, string? Reason, DateTimeOffset StateSince,
    DateTimeOffset? RunningSince, long Files, long Bytes, long PendingTransfers, long BytesWritten, long TransfersDone,
    long TransfersFailed, double Rate, string? LastError, DateTimeOffset? LastErrorAt);
