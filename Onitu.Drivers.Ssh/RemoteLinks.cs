using System.Collections.Concurrent;
using System.Diagnostics;
using Onitu.Drivers.Ssh.Sftp;

namespace Onitu.Drivers.Ssh;

/// <summary>
/// Finds the symbolic links on the way to a file on the server, so that the driver never writes, renames or deletes
/// through one: every directory between the folder's directory and the file is looked at with LSTAT (which does not
/// follow a link) before the driver acts, all of them in flight together (one round trip however deep the file).
/// </summary>
/// <remarks>
/// <para>
/// SFTP v3 names files by path only: it has no way to open a directory and act relative to it (<c>openat</c>,
/// <c>O_NOFOLLOW</c>), so a look and the action after it are two requests, and a directory the server's user swaps for
/// a link in the instant between them is followed. That race remains; what is refused is every link that is there
/// when the driver looks (a link made before, as <c>ln -s /srv/outside escape</c>).
/// </para>
/// <para>
/// Directories found real are trusted for <see cref="TrustTime"/> from the moment their look was sent, and so are
/// those the driver made itself (MKDIR makes a real directory, and never follows a link of the same name: it fails on
/// it): ten thousand files uploaded into a hundred directories cost a look at each directory about once a second,
/// not one per file. That stretches the race above from one round trip to at most <see cref="TrustTime"/> for a
/// directory replaced by a link after the driver last looked at it, and no further: an entry is never trusted longer,
/// a directory the driver removes is forgotten at once, and a look that found anything but a directory (a link, a
/// file, nothing) is not kept. The file itself (the target of a write, a deletion or a move) is looked at by every
/// call, never from this memory.
/// </para>
/// </remarks>
internal sealed class RemoteLinks
{
    /// <summary>How long a directory found real (or made by the driver) is trusted without being looked at again.</summary>
    public static readonly TimeSpan TrustTime = TimeSpan.FromSeconds(1);

    private static readonly SftpAttributes MadeDirectory = new() { Permissions = 0x4000 };

    private readonly ConcurrentDictionary<string, Look> _looks = new(StringComparer.Ordinal);

    // A look at one directory: in flight or done. Shared by the calls that need it meanwhile (in flight, only those on
    // the same session: a look lost with its connection then fails only calls on that connection, which the pool
    // drops), so not stopped by one caller's cancellation.
    private sealed record Look(Task<SftpAttributes?> Attributes, long SentAt, SftpClient? Client);

    /// <summary>What a look at a path found: the first link on the way (or the path itself), else the path's own attributes.</summary>
    /// <param name="Link">The first symbolic link from the folder's directory down to the path itself, or null.</param>
    /// <param name="Attributes">The path's attributes (not following a link), null when nothing is there; null when <paramref name="Link"/> is set.</param>
    public readonly record struct Finding(string? Link, SftpAttributes? Attributes)
    {
        /// <summary>Whether a directory on the way is missing (so is the path): a write makes it before anything else.</summary>
        public bool ParentMissing { get; init; }
    }

    /// <summary>
    /// Looks at the directories between <paramref name="root"/> (the folder's directory, which may itself be a link:
    /// the setup chose it) and <paramref name="path"/>, not <paramref name="path"/> itself: the first symbolic link
    /// among them, or whether one is missing.
    /// </summary>
    public Task<Finding> LookAtParentsAsync(SftpClient client, string root, string path, CancellationToken cancellationToken) =>
        LookAsync(client, root, path, self: false, cancellationToken);

    /// <summary>
    /// Looks at the directories between <paramref name="root"/> and <paramref name="path"/> and at the path itself
    /// (never remembered: every call asks the server), all in flight together: the first link among them, or the path's
    /// attributes.
    /// </summary>
    public Task<Finding> LookAtAsync(SftpClient client, string root, string path, CancellationToken cancellationToken) =>
        LookAsync(client, root, path, self: true, cancellationToken);

    /// <summary>Trusts a directory the driver just made (MKDIR succeeded: it is a real directory).</summary>
    public void Made(string directory) => _looks[directory] = new Look(Task.FromResult<SftpAttributes?>(MadeDirectory), Stopwatch.GetTimestamp(), null);

    /// <summary>Forgets a directory the driver removed: whatever takes its name later is looked at afresh.</summary>
    public void Removed(string directory) => _looks.TryRemove(directory, out _);

    private async Task<Finding> LookAsync(SftpClient client, string root, string path, bool self, CancellationToken cancellationToken)
    {
        // A folder may be the server's "/" itself.
        var prefix = root.EndsWith('/') ? root : root + "/";
        if (!path.StartsWith(prefix, StringComparison.Ordinal) || path.Length <= prefix.Length)
            throw new ArgumentException($"{path} is not inside the folder's directory {root}.", nameof(path));
        var now = Stopwatch.GetTimestamp();
        var parents = new List<string>();
        for (var slash = path.IndexOf('/', prefix.Length); slash > 0; slash = path.IndexOf('/', slash + 1))
            parents.Add(path[..slash]);
        var looks = new Task<SftpAttributes?>[parents.Count + (self ? 1 : 0)];
        for (var i = 0; i < parents.Count; i++)
            looks[i] = DirectoryAsync(client, parents[i], now);
        if (self)
            looks[^1] = client.TryLStatAsync(path, cancellationToken);
        // Every look is awaited (they are in flight together: waiting for all costs no round trip), so none fails unseen.
        await Task.WhenAll(looks).WaitAsync(cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < parents.Count; i++)
        {
            var attributes = await looks[i].ConfigureAwait(false);
            if (attributes is null)
                return new Finding(null, null) { ParentMissing = true }; // nothing below: what a write makes there is a directory
            if (attributes.IsSymbolicLink)
                return new Finding(parents[i], null);
            if (!attributes.IsDirectory)
                return new Finding(null, null); // a file where a directory is needed: the action fails on its own
        }
        if (!self)
            return new Finding(null, null);
        var own = await looks[^1].ConfigureAwait(false);
        return own is { IsSymbolicLink: true } ? new Finding(path, null) : new Finding(null, own);
    }

    // One directory's look: a trusted one (a directory, looked at or made within TrustTime), one in flight, or a new one.
    private Task<SftpAttributes?> DirectoryAsync(SftpClient client, string directory, long now)
    {
        while (true)
        {
            if (_looks.TryGetValue(directory, out var known))
            {
                if (IsUsable(known, now) && (known.Attributes.IsCompleted || known.Client == client))
                    return known.Attributes;
                if (IsUsable(known, now))
                    return client.TryLStatAsync(directory, CancellationToken.None); // in flight on another session
                // Stale, or found not a directory (or failed): looked at again.
                if (!_looks.TryRemove(new KeyValuePair<string, Look>(directory, known)))
                    continue;
            }
            var look = new Look(client.TryLStatAsync(directory, CancellationToken.None), Stopwatch.GetTimestamp(), client);
            if (_looks.TryAdd(directory, look))
            {
                if (_looks.Count > PruneAbove && now - Volatile.Read(ref _prunedAt) > TrustTicks) Prune(now);
                return look.Attributes;
            }
        }
    }

    // In flight, or a directory, within TrustTime of when it was sent.
    private static bool IsUsable(Look look, long now)
    {
        if (now - look.SentAt >= TrustTicks) return false;
        if (!look.Attributes.IsCompleted) return true;
#pragma warning disable VSTHRD002 // the task completed successfully: reading its result does not wait
        return look.Attributes.IsCompletedSuccessfully && look.Attributes.Result is { IsDirectory: true };
#pragma warning restore VSTHRD002
    }

    private static readonly long TrustTicks = (long)(TrustTime.TotalSeconds * Stopwatch.Frequency);

    // The memory holds the directories of about the last second's work; past this many, the stale ones go.
    private const int PruneAbove = 4096;

    private long _prunedAt;

    // At most once per TrustTime: a tree of many thousand directories written within a second is not swept per file.
    private void Prune(long now)
    {
        Volatile.Write(ref _prunedAt, now);
        foreach (var entry in _looks)
        {
            if (!IsUsable(entry.Value, now)) _looks.TryRemove(entry);
        }
    }
}
