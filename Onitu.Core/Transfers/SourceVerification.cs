using Onitu.Services;

namespace Onitu.Transfers;

/// <summary>
/// The check, at the end of a transfer, that its source still holds the revision it was read at (<see cref="IFileStat"/>).
/// When it does not, the source's new state is reported as its driver would, which gives the file a new version and
/// rewrites the job: the transfer is not recorded, and the new content is sent instead.
/// </summary>
internal sealed class SourceVerification(TransferExecutor executor, ServiceHost source, IDriver driver, Onitu.Metadata read)
{
    /// <summary>Whether the check ran.</summary>
    public bool Checked { get; private set; }

    /// <summary>Whether it found the source changed.</summary>
    public bool Changed { get; private set; }

    public async Task<bool> SourceUnchangedAsync(CancellationToken cancellationToken)
    {
        Checked = true;
        if (driver is not IFileStat stat)
            return true;
        Onitu.Metadata? current;
        try
        {
            current = await stat.StatAsync(read, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new ServiceCallException(source.Name, e);
        }
        if (current is not null && current.Revision == read.Revision)
            return true;

        Changed = true;
        executor.SourceChanged(source, read, current);
        if (current is null)
            await source.Plug.DeleteFileAsync(read, CancellationToken.None).ConfigureAwait(false);
        else
            await source.Plug.UpdateFileAsync(current, CancellationToken.None).ConfigureAwait(false);
        return false;
    }
}

/// <summary>The source changed during a transfer (see <see cref="SourceVerification"/>); what was written is not kept.</summary>
internal sealed class SourceChangedException() : OnituException("The source changed while it was read.");


/// <summary>
/// Checks the source when its content has been read to the end, before the target's handler sees the end and commits:
/// a failed check fails the read, so the target drops its temporary file and keeps its previous content.
/// </summary>
internal sealed class VerifyAtEndStream(Stream inner, SourceVerification verification, CancellationToken cancellationToken) : ReadOnlyStreamWrapper(inner)
{
    // A synchronous reader gets no check at the end (that would block on I/O); the transfer checks after the write.
    public override int Read(byte[] buffer, int offset, int count) => Inner.Read(buffer, offset, count);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken readCancellation = default)
    {
        var read = await Inner.ReadAsync(buffer, readCancellation).ConfigureAwait(false);
        if (read == 0 && buffer.Length > 0 && !verification.Checked
            && !await verification.SourceUnchangedAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new SourceChangedException();
        }
        return read;
    }
}
