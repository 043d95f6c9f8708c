using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Onitu.Drivers.LocalStorage;
using Onitu.Setup;

namespace Onitu.Hosting.Tests;

/// <summary>Onitu in a .NET Generic Host, as a worker service would run it.</summary>
public class HostingTests
{
    private static IHost BuildHost(Workspace workspace, Dictionary<string, string?>? settings = null, TimeSpan? shutdownTimeout = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = workspace.Root, DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings ?? new Dictionary<string, string?> { ["Onitu:SetupFile"] = "setup.yml" });
        builder.Logging.AddProvider(new TestContextLoggerProvider(LogLevel.Information, "Microsoft.AspNetCore"));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = shutdownTimeout ?? TimeSpan.FromSeconds(10));
        builder.Services.AddOnitu(builder.Configuration.GetSection("Onitu")).AddDriver<LocalStorageDriverFactory>();
        return builder.Build();
    }

    [Test]
    public async Task A_generic_host_starts_the_engine_syncs_and_stops_on_a_termination_request_within_its_timeout()
    {
        using var workspace = new Workspace();
        workspace.Write("A", "docs/before.txt", "present at start");
        var host = BuildHost(workspace);

        await host.StartAsync();
        var engine = host.Services.GetRequiredService<SyncEngine>();
        Assert.That(engine.IsRunning, Is.True);
        Assert.That(engine.DatabasePath, Is.EqualTo(workspace.DatabasePath), "the relative setup path was resolved against the content root");
        var reader = Task.Run(async () => { await foreach (var _ in engine.ReadEventsAsync()) { } });

        await Workspace.EventuallyAsync(() => workspace.Exists("B", "docs/before.txt"), "the startup scan's file on B");
        workspace.Write("A", "docs/live.txt", "written while the host runs");
        await Workspace.EventuallyAsync(() => workspace.Exists("B", "docs/live.txt"), "the live file on B");

        // What SIGTERM does in a host: ask the application to stop, then the host runs its shutdown.
        var started = DateTime.UtcNow;
        host.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
        await host.WaitForShutdownAsync();
        var took = DateTime.UtcNow - started;

        Assert.That(took, Is.LessThan(TimeSpan.FromSeconds(10)), "stopped within the shutdown timeout");
        Assert.That(engine.IsRunning, Is.False);
        Assert.That(await Task.WhenAny(reader, Task.Delay(Workspace.Timeout(5))), Is.SameAs(reader), "an open event reader ended with the stop");
        await reader; // and did not throw
        if (host is IAsyncDisposable disposable)
            await disposable.DisposeAsync();
    }

    [Test]
    public async Task A_shutdown_token_that_fires_before_the_engine_stopped_is_not_an_error()
    {
        using var workspace = new Workspace();
        var host = BuildHost(workspace);
        await host.StartAsync();
        var hosted = host.Services.GetServices<IHostedService>().OfType<OnituHostedService>().Single();

        // The host's shutdown timeout already elapsed: the engine is asked to stop, the host is not made to crash.
        Assert.DoesNotThrowAsync(() => hosted.StopAsync(new CancellationToken(canceled: true)));

        // Disposing the host waits for the engine's run to end before it releases the drivers and the database.
        Assert.DoesNotThrowAsync(async () => await ((IAsyncDisposable)host).DisposeAsync());
        Assert.That(File.Exists(workspace.DatabasePath), Is.True);
    }

    [Test]
    public async Task A_transfer_interrupted_by_the_hosts_shutdown_resumes_at_the_next_start()
    {
        using var workspace = new Workspace();
        var content = new byte[4 * 1024 * 1024];
        new Random(7).NextBytes(content);
        File.WriteAllBytes(workspace.PathOf("A", "docs/big.bin"), content);
        var settings = new Dictionary<string, string?>
        {
            ["Onitu:SetupFile"] = "setup.yml",
            ["Onitu:ChunkSize"] = "262144",
            ["Onitu:BandwidthLimit"] = "1048576", // 4 s for the file
        };

        var first = BuildHost(workspace, settings, shutdownTimeout: TimeSpan.FromSeconds(5));
        await first.StartAsync();
        var engine = first.Services.GetRequiredService<SyncEngine>();
        await Workspace.EventuallyAsync(async () => (await engine.GetTransfersAsync(activeOnly: true)) is [{ Offset: > 0 }], "the transfer under way");
        first.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
        await first.WaitForShutdownAsync();
        await ((IAsyncDisposable)first).DisposeAsync();
        Assert.That(File.Exists(workspace.PathOf("B", "docs/big.bin")), Is.False, "stopped mid-transfer");

        settings.Remove("Onitu:BandwidthLimit");
        var second = BuildHost(workspace, settings);
        var resumed = new TaskCompletionSource<FileSynced>(TaskCreationOptions.RunContinuationsAsynchronously);
        second.Services.GetRequiredService<SyncEngine>().EventRaised += (_, e) => { if (e is FileSynced s) resumed.TrySetResult(s); };
        await second.StartAsync();
        var synced = await resumed.Task.WaitAsync(Workspace.Timeout());
        await second.StopAsync();
        await ((IAsyncDisposable)second).DisposeAsync();

        Assert.That(synced.Resumed, Is.True, "resumed at its saved offset, not restarted");
        Assert.That(File.ReadAllBytes(workspace.PathOf("B", "docs/big.bin")), Is.EqualTo(content));
    }

    [Test]
    public void A_wrong_setup_fails_the_hosts_start_with_the_setups_message()
    {
        using var workspace = new Workspace("""
            name: broken
            folders:
              docs: {}
            services:
              A: { driver: local_storage, options: { root: A, fsync: maybe }, folders: { docs: docs } }
              B: { driver: locl_storage, options: { root: B }, folders: { docs: docs } }
            """);
        using var host = BuildHost(workspace);

        var error = Assert.ThrowsAsync<SetupException>(() => host.StartAsync());

        Assert.That(error!.Message, Does.Contain("setup.yml").And.Contain("fsync").And.Contain("locl_storage"));
    }

    [Test]
    public void Wrong_engine_options_fail_the_hosts_start_naming_the_option()
    {
        using var workspace = new Workspace();
        using var host = BuildHost(workspace, new Dictionary<string, string?>
        {
            ["Onitu:SetupFile"] = "setup.yml",
            ["Onitu:ChunkSize"] = "12",
        });

        var error = Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.That(error!.Message, Does.Contain("ChunkSize"));
    }

    [Test]
    public async Task An_open_event_stream_does_not_hold_up_the_servers_shutdown()
    {
        using var workspace = new Workspace();
        await using var app = workspace.BuildApp(kestrelUrl: "http://127.0.0.1:0");
        app.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout = TimeSpan.FromSeconds(30);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.Single();
        using var client = new HttpClient();
        using var stream = await client.GetAsync(address + "/api/v1.0/events", HttpCompletionOption.ResponseHeadersRead);
        Assert.That(stream.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.OK));

        var started = DateTime.UtcNow;
        await app.StopAsync();

        Assert.That(DateTime.UtcNow - started, Is.LessThan(TimeSpan.FromSeconds(10)), "the stream ended as the application began to stop");
        Assert.That(app.Services.GetRequiredService<SyncEngine>().IsRunning, Is.False);
    }

    [Test]
    public void Mapping_the_api_without_registering_it_says_what_to_call()
    {
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateBuilder();
        builder.Services.AddOnitu(o => o.SetupFile = "setup.yml");
        var app = builder.Build();

        var error = Assert.Throws<InvalidOperationException>(() => app.MapOnituApi());

        Assert.That(error!.Message, Does.Contain("AddOnituApi"));
    }

    [Test]
    public async Task The_health_check_reports_a_failing_service_as_degraded()
    {
        using var workspace = new Workspace("""
            name: health
            folders:
              docs: {}
            services:
              A: { driver: local_storage, options: { root: A }, folders: { docs: docs } }
              B: { driver: local_storage, options: { root: B }, folders: { docs: docs } }
              Broken: { driver: local_storage, options: { root: broken }, folders: { docs: docs } }
            """);
        File.WriteAllText(Path.Combine(workspace.Root, "broken"), "a file where a directory should be");
        await using var app = workspace.BuildApp();
        await app.StartAsync();
        var client = app.GetTestClient();

        await Workspace.EventuallyAsync(async () => (await client.GetStringAsync("/health")) == "Degraded", "the health check says degraded");

        await app.Services.GetRequiredService<SyncEngine>().StopAsync();
        var stopped = await client.GetAsync("/health");
        Assert.That(await stopped.Content.ReadAsStringAsync(), Is.EqualTo("Unhealthy"), "a stopped engine is unhealthy");
        await app.StopAsync();
    }
}
