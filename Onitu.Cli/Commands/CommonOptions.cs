using System.CommandLine;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Onitu.Drivers;
using Onitu.Drivers.LocalStorage;
using Onitu.Drivers.S3;
using Onitu.Drivers.Ssh;
using Onitu.Plugins;
using Onitu.Rules;
using Onitu.Setup;

namespace Onitu.Cli.Commands;

/// <summary>The options shared by the commands that run the engine, and how they become engine options.</summary>
internal static class CommonOptions
{
    public static readonly Argument<FileInfo> Setup = new("setup") { Description = "The setup file (YAML or JSON)." };

    public static readonly Option<FileInfo?> Database = new("--db")
    {
        Description = "The state database (default: <setup>.state.db beside the setup file).",
    };

    public static readonly Option<string?> ChunkSize = new("--chunk-size")
    {
        Description = "Chunk size of chunked transfers, 4KiB to 256MiB, e.g. 4MiB (default 4MiB).",
    };

    public static readonly Option<int?> Parallel = new("--parallel")
    {
        Description = "How many transfers run at once, 1 to 1024 (default 4; a service that asks for more, such as ssh with its option transfers, runs its own beside these).",
    };

    public static readonly Option<string?> BandwidthLimit = new("--bwlimit")
    {
        Description = "The most bytes per second all transfers write together, e.g. 10M (default: no limit).",
    };

    public static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Log every step and transfer (information and debug messages); by default only warnings and errors are logged.",
    };

    public static readonly Option<DirectoryInfo?> Plugins = new("--plugins")
    {
        Description = "The plugins folder holding installed driver packages (default: $ONITU_PLUGINS, else ~/.onitu/plugins).",
    };

    public static readonly Option<string?> MaxDelete = new("--max-delete")
    {
        Description = "How many of a folder's files one scan may find deleted before none of it is propagated: a share such as 50% " +
                      "or a number such as 100 (default: each folder's max-delete, else more than 50% of at least 10 files).",
    };

    public static readonly Option<bool> Force = new("--force")
    {
        Description = "Confirm the trees as they are: propagate deletions beyond --max-delete and recreate missing folder markers.",
    };

    public static readonly Option<bool> Quiet = new("--quiet", "-q") { Description = "Show no progress line: only the summary, warnings and errors." };

    public static void AddEngineOptions(Command command)
    {
        command.Arguments.Add(Setup);
        foreach (var option in new Option[] { Database, ChunkSize, Parallel, BandwidthLimit, MaxDelete, Force, Plugins, Verbose, Quiet })
            command.Options.Add(option);
    }

    /// <summary>The plugins folder: <c>--plugins</c>, else <c>$ONITU_PLUGINS</c>, else <c>~/.onitu/plugins</c>.</summary>
    public static string PluginsDirectory(ParseResult result)
    {
        if (result.GetValue(Plugins) is { } option)
            return option.FullName;
        var variable = Environment.GetEnvironmentVariable("ONITU_PLUGINS");
        return string.IsNullOrWhiteSpace(variable) ? PluginInstaller.DefaultPluginsDirectory : Path.GetFullPath(variable);
    }

    /// <summary>The built-in drivers.</summary>
    public static DriverCatalog BuiltInDrivers() => new([new LocalStorageDriverFactory(), new SshDriverFactory(), new S3DriverFactory()]);

    /// <summary>
    /// The drivers the command line knows: the built-in ones, then the installed plugins (a plugin that cannot be
    /// loaded, or that has a built-in driver's id, is logged to <paramref name="logger"/> and skipped).
    /// </summary>
    public static DriverCatalog Drivers(ParseResult result, ILogger? logger, out IReadOnlyList<LoadedPlugin> plugins)
    {
        var catalog = BuiltInDrivers();
        plugins = PluginDriverLoader.LoadAll(PluginsDirectory(result), catalog, logger);
        return catalog;
    }

    /// <inheritdoc cref="Drivers(ParseResult, ILogger?, out IReadOnlyList{LoadedPlugin})" />
    public static DriverCatalog Drivers(ParseResult result, ILogger? logger = null) => Drivers(result, logger, out _);

    /// <summary>A logger for commands without --verbose/--quiet: warnings and errors, to stderr.</summary>
    public static ILoggerFactory WarningLogging() => LazyConsoleLogging.Create(LogLevel.Warning, [], builder =>
    {
        builder.SetMinimumLevel(LogLevel.Warning);
        builder.AddSimpleConsole(o => o.SingleLine = true);
        builder.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
    });

    public static ILoggerFactory Logging(ParseResult result)
    {
        // Quiet by default, as rsync and rclone are: progress, a summary, warnings and errors; the log with --verbose.
        var level = result.GetValue(Verbose) ? LogLevel.Debug : LogLevel.Warning;
        // `run --api`: Kestrel's start and failures, not a line per request.
        (string, LogLevel)[] filters = [("Onitu", level), ("Microsoft.AspNetCore", LogLevel.Warning), ("Microsoft.Hosting", LogLevel.Warning)];
        return LazyConsoleLogging.Create(level, filters, builder =>
        {
            builder.SetMinimumLevel(level);
            foreach (var (category, categoryLevel) in filters)
                builder.AddFilter(category, categoryLevel);
            // Logs go to stderr so that stdout carries only results.
            builder.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
            builder.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
            });
        });
    }

    /// <summary>Builds the engine options from the command line; throws <see cref="FormatException"/> naming a wrong flag.</summary>
    public static SyncEngineOptions EngineOptions(ParseResult result)
    {
        var options = new SyncEngineOptions
        {
            SetupFile = result.GetValue(Setup)!.FullName,
            DatabasePath = result.GetValue(Database)?.FullName,
        };
        // The engine refuses these too, naming its own settings; the command line names its flags.
        if (result.GetValue(ChunkSize) is { } chunk)
        {
            var bytes = ParseSize("--chunk-size", chunk);
            options.ChunkSize = bytes is >= SyncEngineOptions.MinChunkSize and <= SyncEngineOptions.MaxChunkSize
                ? (int)bytes
                : throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"--chunk-size: must be between 4 KiB and 256 MiB, got '{chunk}' ({bytes:N0} bytes)."));
        }
        if (result.GetValue(Parallel) is { } parallel)
        {
            options.MaxParallelTransfers = parallel is >= 1 and <= SyncEngineOptions.ParallelTransfersLimit
                ? parallel
                : throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"--parallel: must be between 1 and {SyncEngineOptions.ParallelTransfersLimit}, got {parallel}."));
        }
        if (result.GetValue(BandwidthLimit) is { } limit)
            options.BandwidthLimit = ParseSize("--bwlimit", limit);
        if (result.GetValue(MaxDelete) is { } maxDelete)
        {
            options.MaxDelete = DeletionLimit.TryParse(maxDelete, out var deletionLimit, out var problem)
                ? deletionLimit
                : throw new FormatException($"--max-delete: '{maxDelete}' is not a limit: {problem}.");
        }
        options.Force = result.GetValue(Force);
        return options;
    }

    private static long ParseSize(string flag, string text) =>
        SizeParser.TryParse(text, out var bytes) ? bytes : throw new FormatException($"{flag}: '{text}' is not a size (examples: 512k, 4MiB, 1G).");

    /// <summary>
    /// Creates the engine from the command line and runs <paramref name="work"/> with it; a setup, option or flag
    /// error is printed and ends the command with <see cref="ExitCodes.SetupError"/>; a Ctrl+C or SIGTERM while the
    /// setup loads ends it with <see cref="ExitCodes.Interrupted"/>.
    /// </summary>
    public static Task<int> WithEngineAsync(ParseResult result, CancellationToken cancellationToken, Func<SyncEngine, Task<int>> work) =>
        WithEngineAsync(result, cancellationToken, (engine, _) => work(engine));

    /// <inheritdoc cref="WithEngineAsync(ParseResult, CancellationToken, Func{SyncEngine, Task{int}})"/>
    public static async Task<int> WithEngineAsync(ParseResult result, CancellationToken cancellationToken, Func<SyncEngine, ILoggerFactory, Task<int>> work)
    {
        // The logger factory is cheap (its console is built at the first message, see LazyConsoleLogging), but it is
        // still made while the setup is read: start-up is most of a no-op `onitu sync`.
        var loggingTask = Task.Run(() => Logging(result), CancellationToken.None);
        // So are the built-in drivers (their manifests) and SQLite's first use: start-up work that does not depend on
        // the setup, done on the other core while the setup is read.
        var driversTask = Task.Run(() =>
        {
            PrepareSqlite();
            return BuiltInDrivers();
        }, CancellationToken.None);
        SyncEngine? engine;
        ILoggerFactory logging;
        try
        {
            // Loading is synchronous work (a large setup takes a while): off the signal-handling thread, and stopped
            // between two YAML events when the user asks; a read stuck on a dead mount or a pipe is abandoned.
            var loaded = Task.Run(() => TryLoadSetup(result, Console.Error, cancellationToken), cancellationToken);
            logging = await loggingTask;
            var (options, failure) = await loaded.WaitAsync(cancellationToken);
            engine = null;
            if (options is not null || failure is not null)
            {
                var drivers = await driversTask.WaitAsync(cancellationToken);
                engine = await Task.Run(() => failure is null
                    ? TryCreateEngine(options!, drivers, result, logging, Console.Error)
                    : ReportSetupFailure(failure, drivers, result, logging, Console.Error), cancellationToken).WaitAsync(cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Console.Error.WriteLine("Interrupted while loading the setup: nothing was done.");
            (await loggingTask).Dispose();
            return ExitCodes.Interrupted;
        }
        using (logging)
        {
            if (engine is null)
                return ExitCodes.SetupError;
            await using (engine)
                return await work(engine, logging);
        }
    }

    /// <summary>
    /// The engine options with the setup read; or the setup's problems, to be reported with its services' option
    /// problems once the drivers are known; or neither when an error was printed (a wrong flag).
    /// </summary>
    private static (SyncEngineOptions? Options, SetupException? Failure) TryLoadSetup(ParseResult result, TextWriter error, CancellationToken cancellationToken)
    {
        try
        {
            var options = EngineOptions(result);
            options.Setup = SetupLoader.LoadFile(options.SetupFile!, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            return (options, null);
        }
        catch (SetupException e)
        {
            return (null, e);
        }
        catch (Exception e) when (e is FormatException or Microsoft.Extensions.Options.OptionsValidationException or OverflowException or OnituException)
        {
            error.WriteLine($"error: {e.Message}");
        }
        return (null, null);
    }

    /// <summary>Prints every problem of a setup that failed to load, its services' option problems included; returns no engine.</summary>
    private static SyncEngine? ReportSetupFailure(SetupException failure, DriverCatalog drivers, ParseResult result, ILoggerFactory logging, TextWriter error)
    {
        PluginDriverLoader.LoadAll(PluginsDirectory(result), drivers, logging.CreateLogger("Onitu.Plugins"));
        foreach (var problem in Options.SetupValidator.Validate(failure, drivers))
            error.WriteLine(problem);
        return null;
    }

    // SQLite's page caches (2 MB per connection by default: the writer and each pooled reader) together held about
    // 5 MB more at the peak of an initial sync of 100,000 files (2.5 MB in an unchanged pass) than with this limit, and
    // the limit showed no CPU difference in either (the OS caches the state database anyway). The limit is the process's, which the command owns (a library must not set it for its host):
    // past it SQLite reuses cache pages instead of allocating more; nothing fails.
    private const long SqliteSoftHeapLimit = 2 * 1024 * 1024;

    private static void PrepareSqlite()
    {
        SQLitePCL.Batteries_V2.Init();
        SQLitePCL.raw.sqlite3_soft_heap_limit64(SqliteSoftHeapLimit);
        // A first statement loads the provider's types and compiles the stubs of its native calls, which the state
        // database's opening would otherwise wait for.
        using var connection = new SqliteConnection("Data Source=:memory:;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT $value";
        command.Parameters.AddWithValue("$value", 1L);
        command.ExecuteScalar();
    }

    private static SyncEngine? TryCreateEngine(SyncEngineOptions options, DriverCatalog drivers, ParseResult result, ILoggerFactory logging,
        TextWriter error)
    {
        try
        {
            PluginDriverLoader.LoadAll(PluginsDirectory(result), drivers, logging.CreateLogger("Onitu.Plugins"));
            return SyncEngine.Create(options, drivers, logging);
        }
        catch (SetupException e)
        {
            error.WriteLine(e.Message);
        }
        catch (Exception e) when (e is FormatException or Microsoft.Extensions.Options.OptionsValidationException or OverflowException or OnituException)
        {
            error.WriteLine($"error: {e.Message}");
        }
        return null;
    }
}
