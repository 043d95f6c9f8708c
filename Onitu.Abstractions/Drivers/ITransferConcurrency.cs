namespace Onitu;

/// <summary>
/// A driver whose store is bound by latency rather than bandwidth (a remote server, an object store), telling the engine
/// how many transfers to keep in flight while it takes part in them. Each small file costs such a store a few round
/// trips and almost no bandwidth: only many files in flight at once keep it busy, where a local disk is best served by
/// a few.
/// </summary>
/// <remarks>
/// The engine runs up to <c>SyncEngineOptions.MaxParallelTransfers</c> transfers, deletions and moves at once, and
/// beside them, up to <see cref="ConcurrentTransfers"/> jobs this service takes part in: those it is the target of, and
/// uploads that can only be read from services like it. Other services in the same setup keep the engine's setting.
/// Chunked uploads of large files, which hold a chunk-sized buffer or two each, stay within the engine's own setting. A driver implementing this
/// interface must serve that many calls at once (every driver is called concurrently anyway; see
/// <see cref="IDriver"/>), and should make it an option of its own so that an operator can lower it.
/// </remarks>
public interface ITransferConcurrency
{
    /// <summary>How many transfers to or from this service the engine may keep in flight at once; at least 1.</summary>
    int ConcurrentTransfers { get; }
}
