namespace Onitu;

/// <summary>
/// A driver that can tell a file's current state without reading its content (the store's <c>stat</c>). With it the
/// engine checks, at the end of every transfer that reads from this driver, that the file still has the revision the
/// transfer started from: a file changed while it was read is never recorded as synced, the target keeps (or gets
/// back) a whole version, and the new revision is transferred instead. Without it a transfer trusts the revision it
/// started from.
/// </summary>
public interface IFileStat
{
    /// <summary>
    /// Returns the current state of the file <paramref name="metadata"/> names (its folder and path) as a scan would
    /// report it — <see cref="Metadata.Revision"/>, <see cref="Metadata.Size"/>, <see cref="Metadata.ModifiedAt"/> —
    /// or <see langword="null"/> when there is no such file. When the file has not changed since
    /// <paramref name="metadata"/>'s revision, the returned revision must equal it.
    /// </summary>
    ValueTask<Metadata?> StatAsync(Metadata metadata, CancellationToken cancellationToken);
}
