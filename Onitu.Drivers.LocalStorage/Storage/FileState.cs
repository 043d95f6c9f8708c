using System.Globalization;

namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// What the disk says of a file, from which its revision is derived: size, modification time (to the nanosecond
/// where the file system keeps it) and, where the system gives it, the inode. A rename keeps all of them, so the
/// revision of a temporary file is the revision of the file it becomes; a file replaced by another (a rename over
/// it, an editor's save) is a new inode, and so a new revision even with the same size and time.
/// </summary>
/// <param name="Size">The size in bytes.</param>
/// <param name="LastWriteTimeUtc">The modification time, to the 100 ns tick.</param>
/// <param name="SubTick">The nanoseconds below the tick (0 to 99).</param>
/// <param name="Inode">The inode number; 0 where the system does not give it (the revision then has none).</param>
internal readonly record struct FileState(long Size, DateTime LastWriteTimeUtc, int SubTick = 0, ulong Inode = 0)
{
    /// <summary>
    /// The revision string: <c>{size}-{ticks}.{ns below the tick}-{inode}</c>, or <c>{size}-{ticks}</c> without an
    /// inode (the only form of the versions before, and still the form where no inode is known).
    /// </summary>
    public string Revision => Inode == 0
        ? LegacyRevision
        : string.Create(CultureInfo.InvariantCulture, $"{Size}-{LastWriteTimeUtc.Ticks}.{SubTick:D2}-{Inode}");

    /// <summary>The revision as versions before inode revisions wrote it: size and time in ticks.</summary>
    private string LegacyRevision => string.Create(CultureInfo.InvariantCulture, $"{Size}-{LastWriteTimeUtc.Ticks}");

    /// <summary>
    /// Whether the engine's <paramref name="revision"/> is this state: the same revision, or one an earlier version
    /// recorded (size and ticks only) of a file unchanged since — so an upgrade neither uploads every file again nor
    /// refuses every write. Such a revision cannot tell a same-size, same-time replacement; it is replaced by the
    /// full form at the file's next change.
    /// </summary>
    public bool Matches(string? revision) =>
        revision is not null && (revision == Revision || (Inode != 0 && revision == LegacyRevision));

    /// <summary>Reads the state of the regular file at <paramref name="fullPath"/>; null when there is none.</summary>
    /// <remarks>
    /// Directories and symbolic links count as "no file": links are not synced (as rclone's local backend by default),
    /// since writing through them or replacing them would both surprise someone. An entry that cannot be looked at
    /// counts as no file too, as it did when it just vanished.
    /// </remarks>
    public static FileState? TryRead(string fullPath)
    {
        try
        {
            return From(NativeStat.LStat(fullPath));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The state of a regular file; null for anything else.</summary>
    public static FileState? From(EntryStat stat) =>
        stat.Kind == EntryKind.File
            ? new FileState(stat.Size, new DateTime(stat.MtimeTicks, DateTimeKind.Utc), stat.MtimeSubTick, stat.Inode)
            : null;

    /// <summary>Sets the revision, size and modification time of <paramref name="metadata"/>.</summary>
    public void ApplyTo(Metadata metadata)
    {
        metadata.Revision = Revision;
        metadata.Size = Size;
        metadata.ModifiedAt = new DateTimeOffset(LastWriteTimeUtc.Ticks, TimeSpan.Zero);
    }

    /// <summary>Creates the metadata of a file found on disk, with this state.</summary>
    public Metadata ToMetadata(string folder, string path)
    {
        var metadata = new Metadata(folder, path);
        ApplyTo(metadata);
        return metadata;
    }
}
