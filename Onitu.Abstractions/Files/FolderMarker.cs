namespace Onitu;

/// <summary>
/// The marker file the engine keeps at the root of every folder on every service (as Syncthing's <c>.stfolder</c>): a
/// disk that did not mount, or an emptied or replaced directory, has no marker, and the engine then fails the service
/// instead of reading "everything was deleted". The engine writes and reads it through the driver's ordinary handlers
/// and never syncs it (a report of it is ignored).
/// </summary>
/// <remarks>
/// A driver may know it for two things: its disappearance while the driver watches is the folder's loss, which the
/// driver reports by failing with <see cref="FolderMissingException.MarkerMissing"/> rather than by reporting
/// deletions (the local driver's watch, the ssh driver's every poll); and a write of it (a path equal to <see cref="FileName"/>) is the only write that may create a folder's
/// missing directory, since the engine writes it only after a scan found the folder, or when the user confirmed the
/// folder as it is (<c>onitu sync --force</c>).
/// </remarks>
public static class FolderMarker
{
    /// <summary>The marker's path in its folder: a file at the folder's root, a path the engine reserves and never syncs.</summary>
    public const string FileName = ".onitu-folder";
}
