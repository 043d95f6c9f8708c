namespace Onitu.Sync;

/// <summary>
/// Which of two concurrent writes of a file is the later one, the one that keeps the file's name in a conflict. Each
/// time is the one its own store gave (its driver's <see cref="Onitu.Metadata.ModifiedAt"/>), never the engine's
/// clock. The order is total and depends on nothing but the two writes, so every run and every order in which reports
/// arrive decides alike:
/// <list type="number">
/// <item>both times known: the later time wins;</item>
/// <item>one time unknown: the write with a known time wins (an unknown time cannot be placed, and is not replaced by
/// the moment its report arrived);</item>
/// <item>equal times, or both unknown: the service whose name is greater in ordinal order wins.</item>
/// </list>
/// </summary>
internal static class LaterWrite
{
    /// <summary>Positive when write <c>a</c> is the later one, negative when <c>b</c> is; zero only for one service.</summary>
    public static int Compare(DateTimeOffset? aTime, string aService, DateTimeOffset? bTime, string bService)
    {
        var byTime = (aTime, bTime) switch
        {
            ({ } a, { } b) => a.CompareTo(b),
            (not null, null) => 1,
            (null, not null) => -1,
            _ => 0,
        };
        return byTime != 0 ? byTime : string.CompareOrdinal(aService, bService);
    }
}
