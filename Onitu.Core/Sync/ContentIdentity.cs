using System.Buffers;
using System.IO.Hashing;
using Microsoft.Extensions.Logging;
using Onitu.State;

namespace Onitu.Sync;

/// <summary>What a content comparison found, handed back to <see cref="ChangeProcessor.ApplyUpdate"/>.</summary>
/// <param name="Version">The file version the comparison was made against; stale if the file moved on since.</param>
/// <param name="CurrentHash">The hash of that version's content, when it could be computed.</param>
/// <param name="Same">Whether the reported content is that version's content (equal size and hash).</param>
internal sealed record ContentCheck(long Version, string? CurrentHash, bool Same);

/// <summary>
/// Recognises identical files by content. When a service reports a copy of a path whose relation to the engine's
/// current version is unknown — a first pairing of two full trees, a lost or reset state database, a kill between a
/// file's rename into place and the commit that recorded it, both sides changed to the same content while Onitu was
/// stopped — equal size and equal content hash mean it is that version: nothing is transferred and no conflict copy
/// is made. A hash that cannot be computed is never assumed equal: the copies are then treated as a conflict,
/// which keeps both.
/// </summary>
internal static class ContentIdentity
{
    /// <summary>The prefix naming the algorithm, so that hashes of other algorithms are never compared with ours.</summary>
    public const string Algorithm = "xxh128:";

    /// <summary>Compares what <paramref name="service"/> reported with <paramref name="file"/>'s current version.</summary>
    public static async Task<ContentCheck> CheckAsync(SyncCoordinator coordinator, string service, Onitu.Metadata reported,
        FileRecord file, CancellationToken cancellationToken)
    {
        if (reported.Size != file.Size)
            return new ContentCheck(file.Version, file.Hash, Same: false);

        var current = file.Hash;
        List<ReplicaRecord> holders = [];
        if (current is null)
        {
            holders = await coordinator.Store.WriteAsync(tx => tx.GetReplicas(file.Fid), cancellationToken).ConfigureAwait(false);
            // A racily clean holder's content may have changed since it was recorded: it cannot vouch for the version.
            foreach (var holder in holders.Where(r => r.Holds && !r.Racy && r.Version == file.Version && r.Service != service))
            {
                current = await TryHashAsync(coordinator, holder.Service, ToMetadata(file, holder), cancellationToken).ConfigureAwait(false);
                if (current is not null)
                    break;
            }
        }
        var newcomer = await TryHashAsync(coordinator, service, reported, cancellationToken).ConfigureAwait(false);
        if (current is not null)
            return new ContentCheck(file.Version, current, Same: newcomer is not null && newcomer == current);
        // A racily clean holder's content may have been rewritten in place since it was recorded, so it cannot say what
        // the version's content is, nor that two copies differ; but two copies holding the same content are the same,
        // whichever of them was written last. Without this, identical files written just before a first pairing (or
        // before a pass that lost its database) were a conflict when the second report came before the first one's
        // hash was recorded (RecordRacyHashAsync), and paired cleanly when it came after (the CI failure of
        // ContentIdentityTests: 20 conflicts, 40 transfers of identical files).
        if (newcomer is not null)
        {
            foreach (var holder in holders.Where(r => r.Holds && r.Racy && r.Version == file.Version && r.Service != service))
            {
                if (await TryHashAsync(coordinator, holder.Service, ToMetadata(file, holder), cancellationToken).ConfigureAwait(false) == newcomer)
                    return new ContentCheck(file.Version, newcomer, Same: true);
            }
        }
        return new ContentCheck(file.Version, null, Same: false);
    }

    /// <summary>
    /// Hashes content as a transfer streams it anyway (a few percent of a copy's CPU at ~7 GB/s), so that the version it
    /// carries has a known hash before two copies of it ever meet.
    /// </summary>
    public sealed class Accumulator
    {
        // Made at the first bytes: a transfer the kernel copies (INativeCopy) passes none, and the hasher's state was
        // 6 of the 184 MB an initial local sync of 10,000 files allocated.
        private XxHash128? _hash;
        private long _bytes;

        public void Append(ReadOnlySpan<byte> data)
        {
            (_hash ??= new XxHash128()).Append(data);
            _bytes += data.Length;
        }

        /// <summary>The hash, when exactly <paramref name="size"/> bytes went through in order; else null (unknown).</summary>
        public string? Finish(long size) =>
            _bytes == size ? Algorithm + Convert.ToHexStringLower((_hash ??= new XxHash128()).GetCurrentHash()) : null;
    }

    /// <summary>Hashes a stream's whole content.</summary>
    public static async Task<string> HashAsync(Stream content, CancellationToken cancellationToken)
    {
        var hash = new Accumulator();
        var buffer = ArrayPool<byte>.Shared.Rent(256 * 1024);
        long size = 0;
        try
        {
            int read;
            while ((read = await content.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                hash.Append(buffer.AsSpan(0, read));
                size += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return hash.Finish(size)!;
    }

    /// <summary>
    /// Records the hash of the version a racily clean report of <paramref name="service"/> just recorded, when none is
    /// known yet: read at once, while the file still has the reported revision, it is what the next scan compares the
    /// file with. A transfer that streams the version later records the hash of what it actually sent instead.
    /// </summary>
    public static async Task RecordRacyHashAsync(SyncCoordinator coordinator, string service, Onitu.Metadata reported,
        CancellationToken cancellationToken)
    {
        bool Recorded(StoreTransaction tx, out FileRecord? file)
        {
            file = tx.GetFile(reported.Fid);
            return file is { Deleted: false, Hash: null } && tx.GetReplica(reported.Fid, service) is { Racy: true } replica
                && replica.Revision == reported.Revision && replica.Version == file.Version;
        }

        var version = await coordinator.Store.WriteAsync(tx => Recorded(tx, out var file) ? file!.Version : (long?)null, cancellationToken)
            .ConfigureAwait(false);
        if (version is null || await TryHashAsync(coordinator, service, reported, cancellationToken).ConfigureAwait(false) is not { } hash)
            return;
        // The content read is the reported revision's only if the file still has it.
        if (coordinator.Hosts.TryGetValue(service, out var host) && host.LeaseDriver() is { } lease)
        {
            using (lease)
            {
                if (lease.Driver is IFileStat stat
                    && (await stat.StatAsync(reported, cancellationToken).ConfigureAwait(false))?.Revision != reported.Revision)
                {
                    return;
                }
            }
        }
        await coordinator.Store.WriteAsync(tx =>
        {
            if (Recorded(tx, out var file) && file!.Version == version)
                tx.SetFileHash(file.Fid, file.Version, hash);
        }, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<string?> TryHashAsync(SyncCoordinator coordinator, string service, Onitu.Metadata metadata,
        CancellationToken cancellationToken)
    {
        if (!coordinator.Hosts.TryGetValue(service, out var host) || host.LeaseDriver() is not { } lease)
            return null;
        using var leased = lease;
        try
        {
            var content = await lease.Driver.OpenReadAsync(metadata, cancellationToken).ConfigureAwait(false);
            await using (content.ConfigureAwait(false))
                return await HashAsync(content, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Unknown is not equal: the caller keeps both contents.
            Diagnostics.Log.ContentHashFailed(coordinator.Logger, service, metadata.Folder, metadata.Path, e.Message);
            return null;
        }
    }

    private static Onitu.Metadata ToMetadata(FileRecord file, ReplicaRecord replica)
    {
        var metadata = new Onitu.Metadata(file.Folder, file.Path) { Size = file.Size, ModifiedAt = file.ModifiedAt, Revision = replica.Revision };
        ChangeProcessor.DeserializeExtra(replica.Extra, metadata.Extra);
        return metadata;
    }
}
