namespace Onitu.Sync;

/// <summary>
/// Racily clean revisions (Git's "racy" index entries): a revision made of size and modification time cannot show a
/// rewrite of the same size within the store's timestamp resolution of the moment it was observed. Such a replica is
/// marked when recorded and its content is checked by hash at the next scan (see <see cref="ITimestampResolution"/>).
/// </summary>
internal static class RacyClean
{
    /// <summary>
    /// Whether <paramref name="file"/>, as <paramref name="driver"/> reported or wrote it, was observed at
    /// <paramref name="observedAt"/> (the engine's clock) too close to its last write to trust its revision alone.
    /// A time in the future (a store clock ahead of the engine's) counts as racy too; a file without a time does not:
    /// its revision cannot be a time-based one.
    /// </summary>
    public static bool IsRacy(IDriver? driver, Onitu.Metadata file, DateTimeOffset observedAt)
    {
        if (file.Revision is null || file.ModifiedAt is not { } modified)
            return false;
        var resolution = driver is ITimestampResolution declared ? declared.GetTimestampResolution(file) : ITimestampResolution.Default;
        return resolution > TimeSpan.Zero && modified + resolution > observedAt;
    }
}
