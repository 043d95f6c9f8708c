using System.Collections.Concurrent;
using Onitu.Drivers.Ssh.Sftp;

namespace Onitu.Drivers.Ssh;

/// <summary>
/// Creates missing directories inside a folder on the server, once for every call that finds the same one missing at
/// the same time: the many uploads in flight into a new directory all find it missing, and one creation (with its
/// parents) serves them all, instead of each stat-ing the path and racing to create it.
/// </summary>
/// <remarks>
/// Below the folder's directory, a name found taken is looked at with LSTAT: a directory (made meanwhile by another call
/// or program) is used, a symbolic link is refused (<see cref="RemoteLinkException"/>: the driver never writes through
/// one), anything else is an error. The callers looked at the existing directories above with <see cref="RemoteLinks"/>
/// just before; the directories made here are trusted by it (MKDIR makes a real directory, and fails on a link of that
/// name). A missing folder directory is made as it always was, following links up to it (the setup chose them), as the
/// local driver does: a scan refuses a vanished root, not a write.
/// </remarks>
internal sealed class RemoteDirectories(RemoteLinks links)
{
    // By session as well: a creation that fails with its connection fails only the calls on that connection.
    private readonly ConcurrentDictionary<(SftpClient Client, string Directory), Lazy<Task>> _creating = new();

    /// <summary>
    /// Makes <paramref name="directory"/> and its missing parents (the folder's directory <paramref name="root"/>
    /// included), or waits for the creation already under way.
    /// </summary>
    /// <exception cref="RemoteLinkException">A directory on the way is a symbolic link.</exception>
    /// <exception cref="ServiceException">A path on the way exists and is not a directory, or the server refused.</exception>
    public async Task EnsureAsync(SftpClient client, string root, string directory, CancellationToken cancellationToken)
    {
        if (directory == root)
        {
            await RemoteFiles.MakeDirectoriesAsync(client, root, cancellationToken).ConfigureAwait(false);
            return;
        }
        var key = (client, directory);
        var mine = new Lazy<Task>(() => CreateAsync(key, root), LazyThreadSafetyMode.ExecutionAndPublication);
        var creation = _creating.GetOrAdd(key, mine);
        // Shared, so not stopped by one caller's cancellation; each caller stops waiting on its own.
        await creation.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task CreateAsync((SftpClient Client, string Directory) key, string root)
    {
        var (client, directory) = key;
        try
        {
            if (await TryMakeAsync(client, directory).ConfigureAwait(false)) return;
            // Its parent is missing: made first, then this one.
            await EnsureAsync(client, root, RemoteLayout.Parent(directory), CancellationToken.None).ConfigureAwait(false);
            if (!await TryMakeAsync(client, directory).ConfigureAwait(false))
                throw new RemoteFileNotFoundException($"The parent of {directory} disappeared from the server while {directory} was made in it.");
        }
        finally
        {
            // Done: a later call (the directory removed meanwhile) creates it afresh.
            _creating.TryRemove(key, out _);
        }
    }

    // True when the directory is there now (made, or found a real directory); false when its parent is missing.
    private async Task<bool> TryMakeAsync(SftpClient client, string directory)
    {
        try
        {
            await client.MakeDirectoryAsync(directory, null, CancellationToken.None).ConfigureAwait(false);
            links.Made(directory);
            return true;
        }
        catch (RemoteFileNotFoundException)
        {
            return false;
        }
        catch (SftpStatusException e) when (e.Code == SftpStatusCode.Failure)
        {
            // The name is taken: by a directory made meanwhile (another call, another program), or by something else.
        }
        var existing = await client.TryLStatAsync(directory, CancellationToken.None).ConfigureAwait(false);
        if (existing is { IsDirectory: true }) return true;
        if (existing is { IsSymbolicLink: true }) throw new RemoteLinkException(directory);
        if (existing is null) return false;
        throw new ServiceException($"{directory} exists on the server and is not a directory.", isTransient: false);
    }
}
