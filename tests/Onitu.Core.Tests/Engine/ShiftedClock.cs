namespace Onitu.Core.Tests.Engine;

/// <summary>
/// A clock that runs at the system's pace from a chosen moment: the engine's "now" can be put right after a file's
/// (forced) modification time while its timers and retry delays keep working.
/// </summary>
internal sealed class ShiftedClock : TimeProvider
{
    private TimeSpan _offset;

    public ShiftedClock(DateTimeOffset now) => Set(now);

    /// <summary>Makes <see cref="GetUtcNow"/> answer <paramref name="now"/> at this moment, and run on from there.</summary>
    public void Set(DateTimeOffset now) => _offset = now - System.GetUtcNow();

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + _offset;
}
