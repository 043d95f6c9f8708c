namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// How coarse a local file's modification time may be. Linux file systems that keep nanoseconds stamp files from the
/// kernel's coarse clock, which moves once per scheduler tick (up to 10 ms); FAT keeps 2 s, ext3 and HFS+ 1 s. A
/// time with a fraction of a second shows a fine-grained file system; a whole second may come from a coarse one.
/// </summary>
internal static class TimestampResolution
{
    /// <summary>Two scheduler ticks at the slowest common rate (100 Hz).</summary>
    public static readonly TimeSpan Fine = TimeSpan.FromMilliseconds(20);

    /// <summary>FAT's two seconds, the coarsest of the file systems in common use.</summary>
    public static readonly TimeSpan Coarse = TimeSpan.FromSeconds(2);

    /// <summary>The resolution to assume for a file with this modification time.</summary>
    public static TimeSpan Of(DateTimeOffset? modifiedAt) =>
        modifiedAt is { } time && time.UtcTicks % TimeSpan.TicksPerSecond != 0 ? Fine : Coarse;
}
