namespace Onitu;

/// <summary>
/// A driver that tells how coarse its store's modification times are. A file whose time is within that resolution
/// of the moment the engine recorded its revision is "racily clean" (as Git calls it): a rewrite of the same size
/// in the same clock tick would leave a time-based revision unchanged. The engine checks such a file again by
/// content hash at the next scan — it lists the file with a <see langword="null"/> <see cref="Metadata.Revision"/>
/// (<see cref="IPlug.ListFilesAsync"/>), the driver reports it again, and the engine reads it through
/// <see cref="IDriver.OpenReadAsync"/>: the same content is kept as it is (nothing is sent), another content is a
/// new version.
/// </summary>
/// <remarks>
/// A driver that does not implement this interface is assumed to keep times to the second (<see cref="Default"/>).
/// A driver whose revisions change with every write whatever the time (an etag, a version id, a content hash)
/// answers <see cref="TimeSpan.Zero"/>: its files are never racy.
/// </remarks>
public interface ITimestampResolution
{
    /// <summary>The resolution assumed for a driver that does not implement this interface: one second.</summary>
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How far apart two writes of <paramref name="file"/> may be and still get the same modification time on the
    /// store (its <see cref="Metadata.ModifiedAt"/> as the driver reported it), including how far the store's clock
    /// may lag behind the engine's; <see cref="TimeSpan.Zero"/> when the revision changes with every write.
    /// </summary>
    TimeSpan GetTimestampResolution(Metadata file);
}
