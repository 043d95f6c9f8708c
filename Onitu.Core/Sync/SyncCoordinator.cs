using Microsoft.Extensions.Logging;
using Onitu.Diagnostics;
using Onitu.Rules;
using Onitu.Services;
using Onitu.State;
using Onitu.Transfers;

namespace Onitu.Sync;

/// <summary>
/// The parts of one running engine that its services, plugs and transfers share: the store, the Referee's
/// decisions, the service hosts, the event hub and the signals that reach the transfer scheduler. Built before any
/// of them and never changed after, except the rules on a reload (<see cref="ReplaceRules"/>) and what each run is
/// (<see cref="SinglePass"/>, <see cref="JobSignals.MaxAttempts"/>).
/// </summary>
internal sealed class SyncCoordinator
{
    public SyncCoordinator(MetadataStore store, Referee referee, SyncEngineOptions options, TimeProvider clock, ILoggerFactory loggerFactory)
    {
        Store = store;
        Referee = referee;
        Options = options;
        Clock = clock;
        LoggerFactory = loggerFactory;
        Logger = loggerFactory.CreateLogger<SyncEngine>();
        Processor = new ChangeProcessor(referee, clock);
        Events = new EventHub(Logger, options.RecentEvents);
        Bandwidth = new BandwidthLimiter(options.BandwidthLimit, clock);
        Skips = new SkippedPaths(Events, Logger, clock);
    }

    public MetadataStore Store { get; }
    public Referee Referee { get; private set; }
    public ChangeProcessor Processor { get; private set; }
    public SyncEngineOptions Options { get; }
    public TimeProvider Clock { get; }
    public ILoggerFactory LoggerFactory { get; }
    public ILogger Logger { get; }
    public EventHub Events { get; }
    public BandwidthLimiter Bandwidth { get; }
    public SkippedPaths Skips { get; }
    public Dictionary<string, ServiceHost> Hosts { get; } = new(StringComparer.Ordinal);

    /// <summary>A dry run's engine: it scans and plans, and changes nothing on any store.</summary>
    public bool DryRun { get; init; }

    /// <summary>Whether the current run is one pass (<see cref="SyncEngine.SyncOnceAsync"/>): nothing is watched.</summary>
    public bool SinglePass { get => Volatile.Read(ref _singlePass); set => Volatile.Write(ref _singlePass, value); }
    private bool _singlePass;

    /// <summary>
    /// Puts reloaded rules in force. Readers take <see cref="Referee"/> and <see cref="Processor"/> once per
    /// decision, so a change in progress finishes under the rules it started with.
    /// </summary>
    public void ReplaceRules(Referee referee)
    {
        Processor = new ChangeProcessor(referee, Clock);
        Referee = referee;
    }

    /// <summary>How committed changes reach the transfer scheduler, which subscribes to them.</summary>
    public JobSignals Jobs { get; } = new();

    /// <summary>
    /// Whether <paramref name="file"/>, reported or written by <paramref name="service"/>'s driver, is racily clean
    /// when observed at <paramref name="observedAt"/>, or now (see <see cref="RacyClean"/>).
    /// </summary>
    public bool IsRacy(string service, Onitu.Metadata file, DateTimeOffset? observedAt = null) =>
        RacyClean.IsRacy(Hosts.TryGetValue(service, out var host) ? host.Driver : null, file, observedAt ?? Clock.GetUtcNow());

    /// <summary>Persists a change with the jobs it implies, then lets the scheduler and the subscribers know.</summary>
    public async ValueTask ApplyAsync(Func<StoreTransaction, ChangeOutcome> change, CancellationToken cancellationToken)
    {
        var outcome = await Store.WriteAsync(change, cancellationToken).ConfigureAwait(false);
        AfterCommit(outcome);
    }

    public void AfterCommit(ChangeOutcome outcome)
    {
        if (outcome.HasWork)
            Jobs.JobsRewritten(outcome.TouchedJobs);
        // A dry run makes no rename: what it plans is what it reports.
        List<SyncEvent> events = DryRun && outcome.PlannedRenamesAside.Count > 0 ? [.. outcome.Events, .. outcome.PlannedRenamesAside] : outcome.Events;
        foreach (var syncEvent in events)
        {
            if (syncEvent is ConflictDetected conflict)
                Log.ConflictDetected(Logger, conflict.Folder, conflict.Path, conflict.LosingService, conflict.ConflictPath);
        }
        foreach (var (folder, path, winner, loser) in outcome.ConflictsKeptInPlace)
            Log.ConflictKeptInPlace(Logger, folder, path, winner, loser);
        Events.Publish(events);
    }
}
