namespace Onitu.Transfers;

/// <summary>
/// What the producers of jobs (committed changes, services that became ready) tell the transfer scheduler, and the
/// attempts a job gets in the current run. Created before both sides, so neither holds the other: producers call
/// <see cref="JobsRewritten"/> and <see cref="WorkReady"/>; the scheduler subscribes when it is built.
/// </summary>
internal sealed class JobSignals
{
    /// <summary>Raised after a commit rewrote or removed jobs: their transfers in flight are stale.</summary>
    public event Action<IReadOnlyList<(Guid Fid, string Target)>>? Rewritten;

    /// <summary>Raised when work may have become runnable (new jobs, a service ready again).</summary>
    public event Action? Ready;

    /// <summary>
    /// Jobs that failed this many times are left for a later pass: a one-shot sync gives up after
    /// <see cref="SyncEngineOptions.SyncMaxAttempts"/>; a watching engine never does.
    /// </summary>
    public int MaxAttempts { get; set; } = int.MaxValue;

    /// <summary>Tells the scheduler that a committed change rewrote or removed <paramref name="jobs"/>.</summary>
    public void JobsRewritten(IReadOnlyList<(Guid Fid, string Target)> jobs) => Rewritten?.Invoke(jobs);

    /// <summary>Tells the scheduler to look for runnable work.</summary>
    public void WorkReady() => Ready?.Invoke();
}
