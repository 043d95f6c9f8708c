namespace Onitu.Testing;

/// <summary>
/// What a driver under test declares it can do. A test that needs a capability the driver does not declare is
/// skipped with the reason (<c>Assert.Ignore</c>), never passed silently. Capabilities that are interfaces
/// (<see cref="IChunkedReader"/>, <see cref="IChunkedWriter"/>, <see cref="INativeMove"/>) are detected, not declared.
/// </summary>
public sealed record DriverCapabilities
{
    /// <summary>Everything on, as the reference driver declares.</summary>
    public static DriverCapabilities Default { get; } = new();

    /// <summary>
    /// Whether <see cref="IDriver.WatchAsync"/> reports changes made by another client while the engine runs (by
    /// notifications or by polling). Without it the live tests (moves, directory moves, live changes) are skipped.
    /// </summary>
    public bool ChangeNotifications { get; init; } = true;

    /// <summary>Whether file names may hold non-Latin scripts (Cyrillic, Greek, CJK, emoji) and accents.</summary>
    public bool UnicodeNames { get; init; } = true;

    /// <summary>The longest file name segment tested, in UTF-16 characters (default 120).</summary>
    public int MaxFileNameLength { get; init; } = 120;

    /// <summary>The size of the large multipart file, in bytes (default 10 MiB).</summary>
    public int LargeFileSize { get; init; } = 10 * 1024 * 1024;

    /// <summary>How many handler calls run at once in the concurrency tests (default 32).</summary>
    public int Concurrency { get; init; } = 32;

    /// <summary>
    /// How far apart two readings of one modification time may be: the store's time resolution (default 1 s, the
    /// coarsest common one: SFTP v3, FAT has 2 s).
    /// </summary>
    public TimeSpan ModificationTimePrecision { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How far the store's clock may be from this machine's (default 1 minute), for the modification-time test.</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromMinutes(1);
}
