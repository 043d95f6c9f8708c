namespace Onitu.Drivers.Ssh;

/// <summary>A symbolic link on the server where the driver was about to act through it: the driver refuses (see <see cref="RemoteLinks"/>).</summary>
/// <param name="link">The link's path on the server.</param>
internal sealed class RemoteLinkException(string link) : ServiceException($"{link} is a symbolic link on the server.", isTransient: false)
{
    /// <summary>The link's path on the server.</summary>
    public string Link { get; } = link;
}

/// <summary>
/// A folder's directory is not on the server (any more): the service fails, and nothing of the folder is reported
/// deleted or written until it is back. Not a connection's blip: a poll that meets it ends the watch at once.
/// </summary>
/// <param name="message">Which folder, where, and what is held back.</param>
internal sealed class FolderDirectoryMissingException(string message) : ServiceException(message, isTransient: true);
