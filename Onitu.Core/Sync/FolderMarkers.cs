using System.Text;
using Onitu.State;

namespace Onitu.Sync;

/// <summary>
/// The marker file the engine keeps at the root of every folder on every service (as Syncthing's <c>.stfolder</c>):
/// an unmounted disk's empty mount point has no marker, so it fails its service instead of reading as "everything
/// was deleted". The marker is written and checked through the driver's ordinary handlers, so every driver has it;
/// the engine never syncs it. A user who moved a folder on purpose recreates it with an empty file of that name (or
/// confirms once with <c>onitu sync --force</c>).
/// </summary>
internal sealed class FolderMarkers(SyncCoordinator coordinator, string service)
{
    /// <summary>The marker's name at a folder's root; a path the engine reserves and never syncs.</summary>
    public const string FileName = FolderMarker.FileName;

    private static readonly byte[] Content = Encoding.UTF8.GetBytes(
        "This directory is a folder synced by Onitu. This file tells Onitu the folder is really here (a disk that\n" +
        "did not mount has no such file): do not delete it.\n");

    public static bool IsMarker(string path) => path == FileName;

    /// <summary>Fails when a folder whose marker the engine created earlier has lost it.</summary>
    /// <exception cref="ServiceException">A marker is missing.</exception>
    public async Task CheckAsync(IDriver driver, IReadOnlyList<FolderMapping> folders, CancellationToken cancellationToken)
    {
        foreach (var folder in folders)
        {
            if (!IsRecorded(folder.Name) || await ExistsAsync(driver, folder.Name, cancellationToken).ConfigureAwait(false))
                continue;
            if (coordinator.Options.Force)
            {
                if (!coordinator.DryRun)
                    await CreateAsync(driver, folder.Name, cancellationToken).ConfigureAwait(false);
                continue;
            }
            throw new FolderMarkerMissingException(service, folder);
        }
    }

    /// <summary>After a successful scan, creates the markers not created yet.</summary>
    public async Task EnsureAsync(IDriver driver, IReadOnlyList<FolderMapping> folders, CancellationToken cancellationToken)
    {
        foreach (var folder in folders)
        {
            if (!IsRecorded(folder.Name))
                await CreateAsync(driver, folder.Name, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task CreateAsync(IDriver driver, string folder, CancellationToken cancellationToken)
    {
        try
        {
            if (!await ExistsAsync(driver, folder, cancellationToken).ConfigureAwait(false))
            {
                using var content = new MemoryStream(Content, writable: false);
                var marker = new Onitu.Metadata(folder, FileName) { Size = Content.Length, ModifiedAt = coordinator.Clock.GetUtcNow() };
                await driver.UploadFileAsync(marker, content, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is ContentChangedException)
        {
            // Someone (an earlier run whose database was lost) made it already: it exists, which is all we need.
        }
        catch (Exception e) when (e is OnituException or IOException or UnauthorizedAccessException)
        {
            // A folder Onitu may not write (a read-only mount) keeps working without a marker; the deletion guard
            // still protects it.
            Diagnostics.Log.FolderMarkerNotCreated(coordinator.Logger, service, folder, e.Message);
            return;
        }
        await coordinator.Store.WriteAsync(tx => tx.SetMeta(Key(folder), "1"), cancellationToken).ConfigureAwait(false);
    }

    private static async Task<bool> ExistsAsync(IDriver driver, string folder, CancellationToken cancellationToken)
    {
        try
        {
            var stream = await driver.OpenReadAsync(new Onitu.Metadata(folder, FileName), cancellationToken).ConfigureAwait(false);
            await stream.DisposeAsync().ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is RemoteFileNotFoundException or FileNotFoundException or DirectoryNotFoundException)
        {
            return false;
        }
    }

    private bool IsRecorded(string folder) =>
        coordinator.Store.GetMeta(Key(folder)) is not null;

    private string Key(string folder) => $"marker:{service}:{folder}";
}
