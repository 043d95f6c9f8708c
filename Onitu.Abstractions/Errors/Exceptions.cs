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

/// <summary>
/// A folder of the service is not where it was: its directory is missing, is another directory than the one the driver
/// scanned (an unmounted disk's bare mount point, a directory put in its place), or lost its
/// <see cref="FolderMarker"/>. Nothing is written to the folder, and nothing is reported deleted from it, until a scan
/// finds it again. The engine fails the service at once and scans it again with the service's backoff, as when a
/// start-up scan finds a folder missing: the same check of the marker decides when it resumes.
/// </summary>
public class FolderMissingException : ServiceException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Which folder, where, and what was found instead.</param>
    /// <param name="innerException">The cause, if any.</param>
    public FolderMissingException(string message, Exception? innerException = null)
        : base(message, isTransient: true, innerException) { }

    /// <summary>
    /// The failure of a folder whose marker is missing, as the engine words it when a scan does not find it: "folder
    /// marker missing: is the disk mounted?", what to do when the folder was moved on purpose.
    /// </summary>
    /// <param name="service">The service's name.</param>
    /// <param name="folder">The folder's name.</param>
    /// <param name="location">Where the folder is on the store (its mapping, or its full path).</param>
    public static FolderMissingException MarkerMissing(string service, string folder, string location) =>
        new($"Service '{service}', folder '{folder}' ({location}): folder marker missing: is the disk mounted? " +
            $"Nothing is synced from or to this folder until its marker '{FolderMarker.FileName}' is back. If you moved the folder " +
            $"on purpose, create an empty file '{FolderMarker.FileName}' in its root, or confirm once with 'onitu sync --force'.");
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
