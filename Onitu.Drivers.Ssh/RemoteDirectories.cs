using System.Collections.Concurrent;
using Onitu.Drivers.Ssh.Sftp;

namespace Onitu.Drivers.Ssh;

/// <summary>
/// Creates missing directories on the server once for every call that finds the same one missing at the same time:
/// the many uploads in flight into a new directory all find it missing, and one creation (with its parents) serves them
/// all, instead of each stat-ing the path and racing to create it.
/// </summary>
internal sealed class RemoteDirectories
{
    // By session as well: a creation that fails with its connection fails only the calls on that connection.
    private readonly ConcurrentDictionary<(SftpClient Client, string Directory), Lazy<Task>> _creating = new();

    /// <summary>Makes <paramref name="directory"/> and its missing parents, or waits for the creation already under way.</summary>
    /// <exception cref="ServiceException">A path on the way exists and is not a directory, or the server refused.</exception>
    public async Task EnsureAsync(SftpClient client, string directory, CancellationToken cancellationToken)
    {
        var key = (client, directory);
        var mine = new Lazy<Task>(() => CreateAsync(key), LazyThreadSafetyMode.ExecutionAndPublication);
        var creation = _creating.GetOrAdd(key, mine);
        // Shared, so not stopped by one caller's cancellation; each caller stops waiting on its own.
        await creation.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task CreateAsync((SftpClient Client, string Directory) key)
    {
        try
        {
            await RemoteFiles.MakeDirectoriesAsync(key.Client, key.Directory, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            // Done: a later call (the directory removed meanwhile) creates it afresh.
            _creating.TryRemove(key, out _);
        }
    }
}
