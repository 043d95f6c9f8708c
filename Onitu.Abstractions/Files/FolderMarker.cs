namespace Onitu;

/// <summary>
/// The marker the engine keeps at the root of every folder on every service once the folder was synced there (as
/// Syncthing's <c>.stfolder</c>): an unmounted disk's empty mount point has no marker, so it fails its service instead
/// of reading as "everything was deleted". The engine writes and reads it through the driver's ordinary handlers and
/// never syncs it; a driver that watches its store by polling may check it at every poll (see
/// <see cref="FolderMarkerMissingException"/>).
/// </summary>
public static class FolderMarker
{
    /// <summary>The marker's file name at a folder's root: a path the engine reserves and never syncs.</summary>
    public const string FileName = ".onitu-folder";
}
