using Microsoft.Extensions.Options;
using Onitu.Rules;

namespace Onitu;

/// <summary>How a <see cref="SyncEngine"/> runs: its setup, where it keeps its state, and how it transfers.</summary>
public sealed class SyncEngineOptions
{
    /// <summary>The default chunk size of chunked transfers: 4 MiB.</summary>
    public const int DefaultChunkSize = 4 * 1024 * 1024;

    /// <summary>The smallest <see cref="ChunkSize"/>: 4 KiB.</summary>
    public const int MinChunkSize = 4 * 1024;

    /// <summary>The largest <see cref="ChunkSize"/>: 256 MiB.</summary>
    public const int MaxChunkSize = 256 * 1024 * 1024;

    /// <summary>The most <see cref="MaxParallelTransfers"/> can be: 1024.</summary>
    public const int ParallelTransfersLimit = 1024;

    /// <summary>The setup file (YAML or JSON) to load, when <see cref="Setup"/> is not given.</summary>
    public string? SetupFile { get; set; }

    /// <summary>An already loaded setup; takes precedence over <see cref="SetupFile"/>.</summary>
    public Setup.OnituSetup? Setup { get; set; }

    /// <summary>
    /// The SQLite state database. Defaults to <c>&lt;setup file&gt;.state.db</c> beside the setup file (or
    /// <c>onitu.state.db</c> in the setup's base directory).
    /// </summary>
    public string? DatabasePath { get; set; }

    /// <summary>The chunk size proposed to drivers for chunked transfers (they may answer another), <see cref="MinChunkSize"/> to <see cref="MaxChunkSize"/>.</summary>
    public int ChunkSize { get; set; } = DefaultChunkSize;

    /// <summary>
    /// How many transfers, deletions and moves run at once. A service whose driver asks for more
    /// (<see cref="ITransferConcurrency"/>: a latency-bound store such as an SSH server wants many small files in flight)
    /// runs the jobs it takes part in beside these, as many as it asked for. 1 to <see cref="ParallelTransfersLimit"/>.
    /// </summary>
    public int MaxParallelTransfers { get; set; } = 4;

    /// <summary>
    /// Whether a target that can copy straight from the source's store (<see cref="INativeCopy"/>, such as two
    /// local disks) does so instead of the engine streaming the bytes. Such a copy is not resumable: after a crash
    /// it starts over. Never used under a <see cref="BandwidthLimit"/>.
    /// </summary>
    public bool UseNativeCopy { get; set; } = true;

    /// <summary>The most bytes per second all transfers together write; 0 for no limit.</summary>
    public long BandwidthLimit { get; set; }

    /// <summary>The first retry delay of a failed job or service; it doubles with each failure.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest retry delay.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How many consecutive failed transfers make the engine restart (rescan) a service.</summary>
    public int FailuresBeforeRestart { get; set; } = 5;

    /// <summary>In a one-shot sync, how many times a job is tried before the pass gives up on it.</summary>
    public int SyncMaxAttempts { get; set; } = 3;

    /// <summary>
    /// How many of a folder's files one scan of a service may find deleted before none of those deletions is
    /// propagated; overrides every folder's <c>max-delete</c>. <see langword="null"/> (the default): each folder's
    /// <c>max-delete</c>, else <see cref="DeletionLimit.Default"/> (more than 50 % of at least 10 files).
    /// </summary>
    public DeletionLimit? MaxDelete { get; set; }

    /// <summary>
    /// Confirms the trees as they are: deletions beyond <see cref="MaxDelete"/> are propagated, and a folder whose
    /// marker is missing gets a new one instead of failing its service. For one pass after a deliberate change
    /// (<c>onitu sync --force</c>), not for everyday use.
    /// </summary>
    public bool Force { get; set; }

    /// <summary>
    /// How many of its last events the engine keeps, from its creation on, for <see cref="SyncEngine.GetRecentEvents"/>
    /// (the REST API's <c>GET /events/recent</c> and the status page); 0 keeps none.
    /// </summary>
    public int RecentEvents { get; set; } = 200;

    /// <summary>The delay before retry number <paramref name="attempt"/> (1-based): doubling from <see cref="RetryBaseDelay"/>, capped at <see cref="MaxRetryDelay"/>.</summary>
    internal TimeSpan RetryDelay(int attempt) =>
        TimeSpan.FromSeconds(Math.Min(MaxRetryDelay.TotalSeconds, RetryBaseDelay.TotalSeconds * Math.Pow(2, attempt - 1)));
}

/// <summary>Validates <see cref="SyncEngineOptions"/>, naming every wrong option at once.</summary>
public sealed class SyncEngineOptionsValidator : IValidateOptions<SyncEngineOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, SyncEngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (options.Setup is null && string.IsNullOrWhiteSpace(options.SetupFile))
            errors.Add($"Give a setup: set {nameof(SyncEngineOptions.SetupFile)} or {nameof(SyncEngineOptions.Setup)}.");
        if (options.ChunkSize is < SyncEngineOptions.MinChunkSize or > SyncEngineOptions.MaxChunkSize)
            errors.Add($"{nameof(SyncEngineOptions.ChunkSize)} must be between 4 KiB and 256 MiB (was {options.ChunkSize}).");
        if (options.MaxParallelTransfers is < 1 or > SyncEngineOptions.ParallelTransfersLimit)
            errors.Add($"{nameof(SyncEngineOptions.MaxParallelTransfers)} must be between 1 and {SyncEngineOptions.ParallelTransfersLimit} (was {options.MaxParallelTransfers}).");
        if (options.BandwidthLimit < 0)
            errors.Add($"{nameof(SyncEngineOptions.BandwidthLimit)} cannot be negative.");
        if (options.RetryBaseDelay <= TimeSpan.Zero || options.MaxRetryDelay < options.RetryBaseDelay)
            errors.Add($"{nameof(SyncEngineOptions.RetryBaseDelay)} must be positive and at most {nameof(SyncEngineOptions.MaxRetryDelay)}.");
        if (options.FailuresBeforeRestart < 1)
            errors.Add($"{nameof(SyncEngineOptions.FailuresBeforeRestart)} must be at least 1.");
        if (options.SyncMaxAttempts < 1)
            errors.Add($"{nameof(SyncEngineOptions.SyncMaxAttempts)} must be at least 1.");
        if (options.RecentEvents is < 0 or > 100_000)
            errors.Add($"{nameof(SyncEngineOptions.RecentEvents)} must be between 0 and 100000 (was {options.RecentEvents}).");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
