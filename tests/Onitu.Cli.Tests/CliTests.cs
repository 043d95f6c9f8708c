using System.Security.Cryptography;
using Microsoft.Data.Sqlite;

namespace Onitu.Cli.Tests;

public class CliTests : ScratchTest
{
    private string WriteSetup(string yaml, string name = "setup.yml")
    {
        var path = Path.Combine(Dir, name);
        File.WriteAllText(path, yaml);
        return path;
    }

    private const string TwoFolders = """
        name: cli
        folders:
          docs: {}
        services:
          A:
            driver: local_storage
            options: { root: A }
            folders: { docs: docs }
          B:
            driver: local_storage
            options: { root: B }
            folders: { docs: docs }
        """;

    [Test]
    public async Task Sync_copies_and_exits_zero()
    {
        var setup = WriteSetup(TwoFolders);
        Directory.CreateDirectory(Path.Combine(Dir, "A/docs"));
        File.WriteAllText(Path.Combine(Dir, "A/docs/hello.txt"), "hello");

        using var run = await OnituProcess.RunAsync(Dir, "sync", setup, "--quiet");

        Assert.That(run.ExitCode, Is.Zero, run.Output);
        Assert.That(File.ReadAllText(Path.Combine(Dir, "B/docs/hello.txt")), Is.EqualTo("hello"));
        Assert.That(File.Exists(Path.Combine(Dir, "setup.state.db")), Is.True, "the state database defaults beside the setup");
    }

    [Test]
    public async Task Sync_exits_non_zero_when_a_service_fails()
    {
        var setup = WriteSetup(TwoFolders);
        File.WriteAllText(Path.Combine(Dir, "B"), "a file where B's root directory should be");

        using var run = await OnituProcess.RunAsync(Dir, "sync", setup, "--quiet");

        Assert.That(run.ExitCode, Is.EqualTo(2), run.Output);
        Assert.That(run.StandardError, Does.Contain("'B'"));
    }

    [Test]
    public async Task Validate_accepts_a_good_setup()
    {
        using var run = await OnituProcess.RunAsync(Dir, "validate", WriteSetup(TwoFolders));
        Assert.That(run.ExitCode, Is.Zero, run.Output);
        Assert.That(run.StandardOutput, Does.Contain("valid"));
    }

    [Test]
    public async Task A_missing_setup_file_is_named()
    {
        using var run = await OnituProcess.RunAsync(Dir, "sync", Path.Combine(Dir, "nope.yml"));
        Assert.That(run.ExitCode, Is.EqualTo(1));
        Assert.That(run.StandardError, Does.Contain("nope.yml"));
    }

    [Test]
    public async Task Bad_yaml_is_reported_with_its_line()
    {
        var setup = WriteSetup("name: broken\nfolders:\n  docs: {}\nservices:\n  A: [unclosed\n");
        using var run = await OnituProcess.RunAsync(Dir, "validate", setup);
        Assert.That(run.ExitCode, Is.EqualTo(1));
        Assert.That(run.StandardError, Does.Contain("setup.yml:").And.Match(@"setup\.yml:[5-6]"));
    }

    [TestCase("driver: dropbox_v9", "dropbox_v9", TestName = "Unknown driver is named with the installed ones")]
    [TestCase("driver: local_storage\n    options: { root: A, rooot: B }", "rooot", TestName = "Unknown option is named")]
    [TestCase("driver: local_storage\n    options: { root: A, fsync: sometimes }", "fsync", TestName = "Option of the wrong type is named")]
    [TestCase("driver: local_storage\n    options: {}", "root", TestName = "Missing mandatory option is named")]
    public async Task Option_errors_name_the_service_and_the_option(string serviceBody, string expected)
    {
        var setup = WriteSetup($"""
            name: bad
            folders:
              docs: {"{}"}
            services:
              S:
                {serviceBody}
                folders: {"{ docs: docs }"}
            """);
        foreach (var command in new[] { "validate", "sync" })
        {
            using var run = await OnituProcess.RunAsync(Dir, command, setup);
            Assert.That(run.ExitCode, Is.EqualTo(1), $"{command}: {run.Output}");
            Assert.That(run.StandardError, Does.Contain(expected).And.Contain("S"), command);
        }
        if (expected == "dropbox_v9")
        {
            using var run = await OnituProcess.RunAsync(Dir, "validate", setup);
            Assert.That(run.StandardError, Does.Contain("local_storage"), "the error lists the installed drivers");
        }
    }

    [Test]
    public async Task Drivers_lists_the_built_in_local_storage_and_ssh_drivers_and_their_options()
    {
        using var run = await OnituProcess.RunAsync(Dir, "drivers");
        Assert.That(run.ExitCode, Is.Zero, run.Output);
        Assert.That(run.StandardOutput, Does.Contain("local_storage").And.Contain("root"));
        Assert.That(run.StandardOutput, Does.Contain("ssh").And.Contain("known-hosts-policy"));
        Assert.That(run.StandardOutput, Does.Contain("s3 ").And.Contain("secret-key"));
    }

    [Test]
    public async Task Help_shows_every_command_including_drivers_install_and_remove()
    {
        using var run = await OnituProcess.RunAsync(Dir, "--help");
        Assert.That(run.ExitCode, Is.Zero, run.Output);
        foreach (var command in new[] { "run", "sync", "validate", "drivers", "drivers install", "drivers remove" })
            Assert.That(run.StandardOutput, Does.Contain(command), $"'onitu --help' does not mention '{command}':\n{run.StandardOutput}");
    }

    [Test]
    public async Task Drivers_shows_the_package_version_of_the_built_in_drivers()
    {
        var informational = typeof(Onitu.Drivers.LocalStorage.LocalStorageDriverFactory).Assembly
            .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .Cast<System.Reflection.AssemblyInformationalVersionAttribute>().Single().InformationalVersion;
        var packageVersion = informational.Split('+')[0];

        using var run = await OnituProcess.RunAsync(Dir, "drivers");

        Assert.That(run.ExitCode, Is.Zero, run.Output);
        Assert.That(run.StandardOutput, Does.Contain($"local_storage {packageVersion} — ").And.Contain($"ssh {packageVersion} — "), run.StandardOutput);
        Assert.That(run.StandardOutput, Does.Not.Contain(" 0.1.0.0 "), "the assembly version is not the package version");
    }

    [Test]
    public async Task Drivers_keeps_its_columns_on_long_option_names()
    {
        using var run = await OnituProcess.RunAsync(Dir, "drivers");
        Assert.That(run.ExitCode, Is.Zero, run.Output);
        var lines = run.StandardOutput.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        foreach (var manifest in new[] { new Onitu.Drivers.LocalStorage.LocalStorageDriverFactory().Manifest, new Onitu.Drivers.Ssh.SshDriverFactory().Manifest, new Onitu.Drivers.S3.S3DriverFactory().Manifest })
        {
            var header = lines.FindIndex(l => l.StartsWith(manifest.Id + " ", StringComparison.Ordinal));
            Assert.That(header, Is.Not.Negative, run.StandardOutput);
            var block = lines.Skip(header + 1).TakeWhile(l => l.Length > 0).ToList();
            var typeColumns = new HashSet<int>();
            foreach (var key in manifest.Options.Keys)
            {
                var line = block.Single(l => l.StartsWith("  " + key + " ", StringComparison.Ordinal));
                Assert.That(line.Substring(2 + key.Length), Does.StartWith("  "), $"no gap after the option name: '{line}'");
                typeColumns.Add(line.IndexOf(manifest.Options[key].Type.ToString().ToLowerInvariant(), 2 + key.Length, StringComparison.Ordinal));
            }
            Assert.That(typeColumns, Has.Count.EqualTo(1), $"the type column of {manifest.Id}'s options is not aligned:\n{string.Join("\n", block)}");
        }
    }

    [Test]
    public async Task Sync_is_quiet_by_default_and_logs_with_verbose()
    {
        var setup = WriteSetup(TwoFolders);
        Directory.CreateDirectory(Path.Combine(Dir, "A/docs"));
        File.WriteAllText(Path.Combine(Dir, "A/docs/one.txt"), "one");

        using (var quiet = await OnituProcess.RunAsync(Dir, "sync", setup))
        {
            Assert.That(quiet.ExitCode, Is.Zero, quiet.Output);
            Assert.That(quiet.StandardOutput, Does.Match(@"^1 changes propagated \(3 B\) in \d+\.\d+ s, 0 left\.\s*$"), "the summary, and nothing else, on stdout");
            Assert.That(quiet.StandardError, Does.Not.Contain("info:").And.Not.Contain("dbug:"), "no log below warnings without --verbose");
        }

        File.WriteAllText(Path.Combine(Dir, "A/docs/two.txt"), "two");
        using var verbose = await OnituProcess.RunAsync(Dir, "sync", setup, "--verbose");
        Assert.That(verbose.ExitCode, Is.Zero, verbose.Output);
        Assert.That(verbose.StandardError, Does.Contain("info:"), "--verbose logs the engine's information messages");
        Assert.That(verbose.StandardOutput, Does.StartWith("1 changes propagated"));
    }

    [Test]
    public async Task A_transfer_killed_mid_way_resumes_from_its_saved_offset()
    {
        var setup = WriteSetup(TwoFolders);
        Directory.CreateDirectory(Path.Combine(Dir, "A/docs"));
        Directory.CreateDirectory(Path.Combine(Dir, "B/docs"));
        var content = new byte[8 * 1024 * 1024];
        new Random(42).NextBytes(content);
        File.WriteAllBytes(Path.Combine(Dir, "A/docs/big.bin"), content);
        var database = Path.Combine(Dir, "setup.state.db");

        // 8 MiB at 2 MiB/s in 256 KiB chunks: the transfer is under way for about four seconds.
        using (var slow = OnituProcess.Start(Dir, "run", setup, "--bwlimit", "2MiB", "--chunk-size", "256KiB", "--quiet"))
        {
            var deadline = DateTime.UtcNow.AddSeconds(60 * OnituProcess.TimeUnit);
            while (SavedOffset(database) < 1024 * 1024)
            {
                Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the transfer never made progress: " + slow.Output);
                Assert.That(slow.HasExited, Is.False, slow.Output);
                await Task.Delay(50);
            }
            slow.Kill(); // SIGKILL: no shutdown code runs
        }
        var offsetAtKill = SavedOffset(database);
        Assert.That(offsetAtKill, Is.GreaterThan(0).And.LessThan(content.Length), "killed mid-transfer");
        Assert.That(File.Exists(Path.Combine(Dir, "B/docs/big.bin")), Is.False, "a partial transfer never shows under the real name");

        using var resume = await OnituProcess.RunAsync(Dir, "sync", setup, "--chunk-size", "256KiB", "--verbose");

        Assert.That(resume.ExitCode, Is.Zero, resume.Output);
        Assert.That(resume.Output, Does.Match(@"Resuming docs:big\.bin to B at offset [1-9]\d*"));
        Assert.That(SHA256.HashData(File.ReadAllBytes(Path.Combine(Dir, "B/docs/big.bin"))), Is.EqualTo(SHA256.HashData(content)));
    }

    [Test]
    public async Task Sigterm_while_the_setup_loads_ends_the_command()
    {
        // A setup that never finishes arriving (a pipe whose writer stalls) keeps the load busy as long as we like.
        var fifo = Path.Combine(Dir, "slow.yml");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo]))
            await mkfifo.WaitForExitAsync();
        using var sync = OnituProcess.Start(Dir, "sync", fifo, "--quiet");
        await using var writer = new FileStream(fifo, FileMode.Open, FileAccess.Write); // returns once onitu opened it
        await writer.WriteAsync("name: slow\nfolders:\n  docs:\n    blacklist:\n      - '*.tmp'\n"u8.ToArray());
        await writer.FlushAsync();
        await Task.Delay(500);
        Assert.That(sync.HasExited, Is.False, sync.Output);

        sync.Terminate();
        await sync.WaitAsync(TimeSpan.FromSeconds(20 * OnituProcess.TimeUnit));
        Assert.That(sync.ExitCode, Is.EqualTo(130), sync.Output);
        Assert.That(sync.StandardError, Does.Contain("Interrupted while loading the setup"));
    }

    [Test]
    public async Task Run_stops_gracefully_on_ctrl_c()
    {
        var setup = WriteSetup(TwoFolders);
        Directory.CreateDirectory(Path.Combine(Dir, "A/docs"));
        using var run = OnituProcess.Start(Dir, "run", setup);
        var deadline = DateTime.UtcNow.AddSeconds(30 * OnituProcess.TimeUnit);
        File.WriteAllText(Path.Combine(Dir, "A/docs/live.txt"), "live");
        while (!File.Exists(Path.Combine(Dir, "B/docs/live.txt")))
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), run.Output);
            await Task.Delay(50);
        }
        run.Interrupt();
        await run.WaitAsync(TimeSpan.FromSeconds(30 * OnituProcess.TimeUnit));
        Assert.That(run.ExitCode, Is.Zero, run.Output);
        Assert.That(run.StandardError, Does.Contain("Stopping"));
    }

    [Test]
    public async Task Run_with_api_serves_the_rest_api_and_the_status_page_and_stops_on_sigterm()
    {
        var setup = WriteSetup(TwoFolders);
        Directory.CreateDirectory(Path.Combine(Dir, "A/docs"));
        File.WriteAllText(Path.Combine(Dir, "A/docs/hello.txt"), "hello");
        var port = FreePort();
        using var run = OnituProcess.Start(Dir, "run", setup, "--api", $"127.0.0.1:{port}");
        var deadline = DateTime.UtcNow.AddSeconds(30 * OnituProcess.TimeUnit);
        while (!run.StandardError.Contains("Status page:", StringComparison.Ordinal))
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), run.Output);
            Assert.That(run.HasExited, Is.False, run.Output);
            await Task.Delay(50);
        }
        var tokenFile = Path.Combine(Dir, "setup.state.db.api-token");
        var token = File.ReadAllText(tokenFile).Trim();
        Assert.That(run.StandardError, Does.Contain($"http://127.0.0.1:{port}/#token={token}"));

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        var entries = await http.GetStringAsync("api/v1.0/entries");
        Assert.That(entries, Does.StartWith("{\"entries\":[{\"name\":\"A\",\"driver\":\"local_storage\""));
        Assert.That(await http.GetStringAsync(""), Does.Contain("<title>Onitu</title>"));
        using (var denied = await http.PutAsync("api/v1.0/entries/A/stop", null))
            Assert.That((int)denied.StatusCode, Is.EqualTo(401), "a PUT without the token");
        using (var stop = new HttpRequestMessage(HttpMethod.Put, "api/v1.0/entries/A/stop"))
        {
            stop.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            using var stopped = await http.SendAsync(stop);
            Assert.That((int)stopped.StatusCode, Is.EqualTo(200), await stopped.Content.ReadAsStringAsync());
        }
        Assert.That(await http.GetStringAsync("api/v1.0/entries/A/status"), Does.Contain("\"status\":\"stopped\""));

        using var events = await http.GetAsync("api/v1.0/events", HttpCompletionOption.ResponseHeadersRead);
        run.Terminate();
        await run.WaitAsync(TimeSpan.FromSeconds(20 * OnituProcess.TimeUnit));
        Assert.That(run.ExitCode, Is.Zero, run.Output);
    }

    [Test]
    public async Task Run_with_api_keeps_the_events_of_the_start_up_scan_for_events_recent()
    {
        var setup = WriteSetup(TwoFolders);
        Directory.CreateDirectory(Path.Combine(Dir, "A/docs"));
        File.WriteAllText(Path.Combine(Dir, "A/docs/at-start.txt"), "synced by the start-up scan");
        var port = FreePort();
        using var run = OnituProcess.Start(Dir, "run", setup, "--api", $"127.0.0.1:{port}");
        var deadline = DateTime.UtcNow.AddSeconds(30 * OnituProcess.TimeUnit);
        while (!run.StandardError.Contains("Status page:", StringComparison.Ordinal) || !File.Exists(Path.Combine(Dir, "B/docs/at-start.txt")))
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), run.Output);
            Assert.That(run.HasExited, Is.False, run.Output);
            await Task.Delay(50);
        }

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        // The file is on B a moment before its sync is recorded (and its event published).
        var recent = await http.GetStringAsync("api/v1.0/events/recent");
        while (!recent.Contains("\"type\":\"fileSynced\"", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
            recent = await http.GetStringAsync("api/v1.0/events/recent");
        }
        using var events = System.Text.Json.JsonDocument.Parse(recent);
        var kinds = events.RootElement.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("type").GetString()).ToList();
        Assert.That(kinds, Does.Contain("serviceStateChanged"), "the services starting, before the API existed");
        Assert.That(events.RootElement.GetProperty("events").EnumerateArray().Any(e => e.GetProperty("type").GetString() == "fileSynced"
            && e.GetProperty("path").GetString() == "at-start.txt" && e.GetProperty("service").GetString() == "B"), Is.True, recent);

        run.Terminate();
        await run.WaitAsync(TimeSpan.FromSeconds(20 * OnituProcess.TimeUnit));
        Assert.That(run.ExitCode, Is.Zero, run.Output);
    }

    [Test]
    public async Task Run_with_a_wrong_api_address_names_the_flag()
    {
        var setup = WriteSetup(TwoFolders);
        using var run = await OnituProcess.RunAsync(Dir, "run", setup, "--api", "127.0.0.1:99999");
        Assert.That(run.ExitCode, Is.EqualTo(1));
        Assert.That(run.StandardError, Does.Contain("--api").And.Contain("99999"));
    }

    [TestCase("--parallel", "0", "must be between 1 and 1024, got 0", TestName = "--parallel 0 is refused naming the flag")]
    [TestCase("--parallel", "1025", "must be between 1 and 1024, got 1025", TestName = "--parallel 1025 is refused naming the flag")]
    [TestCase("--chunk-size", "0", "must be between 4 KiB and 256 MiB, got '0' (0 bytes)", TestName = "--chunk-size 0 is refused naming the flag")]
    [TestCase("--chunk-size", "1k", "must be between 4 KiB and 256 MiB, got '1k' (1,000 bytes)", TestName = "--chunk-size 1k is refused naming the flag")]
    [TestCase("--chunk-size", "3GiB", "must be between 4 KiB and 256 MiB, got '3GiB' (3,221,225,472 bytes)", TestName = "--chunk-size 3GiB is refused naming the flag")]
    public async Task An_engine_flag_out_of_range_is_refused_naming_the_flag(string flag, string value, string rule)
    {
        var setup = WriteSetup(TwoFolders);
        foreach (var command in new[] { "sync", "run" })
        {
            using var run = await OnituProcess.RunAsync(Dir, command, setup, flag, value);
            Assert.That(run.ExitCode, Is.EqualTo(1), $"{command}: {run.Output}");
            Assert.That(run.StandardError.Trim(), Is.EqualTo($"error: {flag}: {rule}."), $"{command}: {run.Output}");
        }
        Assert.That(Directory.Exists(Path.Combine(Dir, "A")), Is.False, "nothing started");
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static long SavedOffset(string database)
    {
        if (!File.Exists(database))
            return 0;
        try
        {
            using var connection = new SqliteConnection($"Data Source={database};Mode=ReadOnly;Pooling=False");
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT coalesce(max(offset), 0) FROM jobs";
            return (long)command.ExecuteScalar()!;
        }
        catch (SqliteException)
        {
            return 0; // the schema is not created yet
        }
    }
}
