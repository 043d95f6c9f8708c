namespace Onitu;

/// <summary>The base of the errors Onitu and its drivers raise on purpose.</summary>
public class OnituException : Exception
{
    /// <summary>Creates the exception.</summary>
    public OnituException(string message, Exception? innerException = null) : base(message, innerException) { }
}

/// <summary>
/// The driver is broken or misconfigured (the seed's <c>DriverError</c>): retrying will not help until the
/// setup or the driver changes. The engine marks the service failing with this message.
/// </summary>
public class DriverException : OnituException
{
    /// <summary>Creates the exception.</summary>
    public DriverException(string message, Exception? innerException = null) : base(message, innerException) { }
}

/// <summary>
/// The store failed to do what was asked (the seed's <c>ServiceError</c>): a network error, a full disk, a
/// refused permission. <see cref="IsTransient"/> says whether trying again later may succeed; the engine retries
/// transient errors with backoff.
/// </summary>
public class ServiceException : OnituException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed, without secrets.</param>
    /// <param name="isTransient">Whether the same call may succeed later.</param>
    /// <param name="innerException">The cause.</param>
    public ServiceException(string message, bool isTransient = true, Exception? innerException = null)
        : base(message, innerException) => IsTransient = isTransient;

    /// <summary>Whether the same call may succeed if tried again later.</summary>
    public bool IsTransient { get; }
}

/// <summary>The file asked for is not on the store (any more).</summary>
public class RemoteFileNotFoundException : ServiceException
{
    /// <summary>Creates the exception.</summary>
    public RemoteFileNotFoundException(string message, Exception? innerException = null)
        : base(message, isTransient: false, innerException) { }
}

/// <summary>A partial upload cannot be resumed (it is gone or shorter than the offset); the engine starts over.</summary>
public class UploadNotResumableException : ServiceException
{
    /// <summary>Creates the exception.</summary>
    public UploadNotResumableException(string message, Exception? innerException = null)
        : base(message, isTransient: false, innerException) { }
}

/// <summary>
/// A write or delete was refused because the file on the store changed since the revision the engine knew: the
/// driver reported the new revision through the plug, and the engine resolves the conflict instead of overwriting.
/// </summary>
public class ContentChangedException : ServiceException
{
    /// <summary>Creates the exception.</summary>
    public ContentChangedException(string message, Exception? innerException = null)
        : base(message, isTransient: true, innerException) { }
}

/// <summary>
/// The store refuses this one path, not the service: a symbolic link between the folder's root and the file (writing
/// through it would leave the folder), or a name the store cannot hold. Never transient: trying again changes nothing
/// until the user changes the path on the store. The driver has reported the path through
/// <see cref="IPlug.ReportSkippedAsync"/>; the engine fails this one job without counting it against the service.
/// </summary>
public class PathRefusedException : ServiceException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Which path is refused and why, naming it.</param>
    /// <param name="innerException">The cause, if any.</param>
    public PathRefusedException(string message, Exception? innerException = null)
        : base(message, isTransient: false, innerException) { }
}

/// <summary>
/// A folder the engine synced on a service has lost its marker (<see cref="FolderMarker.FileName"/> at the folder's
/// root): most likely the folder is not the one synced any more (a disk or a remote file system that did not mount,
/// a directory swapped for an empty one). Nothing is synced from or to the folder, and nothing is reported deleted,
/// until the marker is back. The engine throws it when a scan starts; a driver that polls its store throws it from
/// its watch when a poll finds the marker gone, before reporting anything of that poll.
/// </summary>
public class FolderMarkerMissingException : ServiceException
{
    /// <summary>Creates the exception, with the message that tells the user what to check and how to confirm a move.</summary>
    /// <param name="service">The service's name.</param>
    /// <param name="folder">The folder, as the service maps it.</param>
    public FolderMarkerMissingException(string service, FolderMapping folder)
        : base(MessageFor(service, folder), isTransient: true)
    {
        ArgumentNullException.ThrowIfNull(folder);
        Folder = folder.Name;
    }

    /// <summary>The folder's name in the setup.</summary>
    public string Folder { get; }

    private static string MessageFor(string service, FolderMapping folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        return $"Service '{service}', folder '{folder.Name}' ({folder.Path}): folder marker missing: is the disk mounted? " +
            $"Nothing is synced from or to this folder until its marker '{FolderMarker.FileName}' is back. If you moved the folder " +
            $"on purpose, create an empty file '{FolderMarker.FileName}' in its root, or confirm once with 'onitu sync --force'.";
    }
}
