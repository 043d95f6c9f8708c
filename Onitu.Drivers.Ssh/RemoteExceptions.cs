namespace Onitu.Drivers.Ssh;

/// <summary>A symbolic link on the server where the driver was about to act through it: the driver refuses (see <see cref="RemoteLinks"/>).</summary>
/// <param name="link">The link's path on the server.</param>
internal sealed class RemoteLinkException(string link) : ServiceException($"{link} is a symbolic link on the server.", isTransient: false)
{
    /// <summary>The link's path on the server.</summary>
    public string Link { get; } = link;
}

