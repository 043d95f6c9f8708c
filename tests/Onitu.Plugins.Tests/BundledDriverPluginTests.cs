using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using Microsoft.Extensions.Logging.Abstractions;
using Onitu.Drivers;
using Onitu.Setup;

namespace Onitu.Plugins.Tests;

/// <summary>
/// The bundled drivers as a user meets them without referencing them: packed with <c>dotnet pack</c>, installed by
/// <see cref="PluginInstaller"/> (<c>onitu drivers install</c>) and loaded by <see cref="PluginDriverLoader.LoadAll"/>
/// into a catalog without built-in drivers, as the CLI loads the plugins folder before it creates the engine. This
/// test assembly references none of the drivers (nor the AWS SDK), so whatever they need must come from their packages.
/// </summary>
internal static class InstalledDrivers
{
    /// <summary>Installs <paramref name="packages"/> into a fresh plugins folder under <paramref name="root"/> and loads them all.</summary>
    public static (DriverCatalog Catalog, IReadOnlyList<LoadedPlugin> Plugins) InstallAndLoad(string root, params string[] packages)
    {
        var installer = new PluginInstaller(Path.Combine(root, "plugins"));
        foreach (var package in packages)
            Assert.That(installer.Install(package).Warnings, Is.Empty, Path.GetFileName(package));
        var catalog = new DriverCatalog([]);
        var loaded = PluginDriverLoader.LoadAll(installer.PluginsDirectory, catalog, NullLogger.Instance);
        Assert.That(loaded, Has.Count.EqualTo(packages.Length), "every plugin loads");
        return (catalog, loaded);
    }

    public static SyncEngine CreateEngine(string root, string services, DriverCatalog catalog)
    {
        var setup = Path.Combine(root, "setup.yml");
        File.WriteAllText(setup, "name: plugin-drivers\nfolders:\n  docs: {}\nservices:\n" + services);
        return SyncEngine.Create(new SyncEngineOptions { SetupFile = setup, DatabasePath = Path.Combine(root, "state.db") }, catalog, NullLoggerFactory.Instance);
    }

    public static string LocalService(string name) => $"""
          {name}:
            driver: local_storage
            options: {"{"} root: {name} {"}"}
            folders: {"{"} docs: docs {"}"}

        """;

    /// <summary>What a plugin whose dependencies do not resolve in its load context fails with.</summary>
    public static readonly string[] LoadFailureWords =
        ["Could not load file or assembly", "FileNotFoundException", "FileLoadException", "TypeLoadException", "MissingMethodException", "TypeInitializationException"];

    /// <summary>Asserts that the assembly named <paramref name="name"/> is loaded in <paramref name="plugin"/>'s context, from its folder, and not in the host's.</summary>
    public static void AssertLoadedInPlugin(LoadedPlugin plugin, string name)
    {
        var inPlugin = plugin.Context.Assemblies.Where(a => a.GetName().Name == name).ToList();
        Assert.That(inPlugin, Has.Count.EqualTo(1), $"{name} is loaded in the plugin's context {plugin.Context.Name}");
        Assert.That(inPlugin[0].Location, Does.StartWith(plugin.Installed.PluginDirectory), $"{name} comes from the plugin's folder");
        Assert.That(AssemblyLoadContext.Default.Assemblies.Select(a => a.GetName().Name), Does.Not.Contain(name), $"{name} is not in the host's context");
    }
}

[Parallelizable(ParallelScope.All)]
public sealed class S3PluginTests
{
    [Test]
    public void The_s3_package_carries_its_dependency_closure_and_manifest_but_not_the_contract()
    {
        using var zip = ZipFile.OpenRead(PackagesFixture.S3);
        var names = zip.Entries.Select(e => e.FullName).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(names, Does.Contain("onitu/manifest.json"));
            foreach (var dll in new[] { "Onitu.Drivers.S3", "AWSSDK.Core", "AWSSDK.S3", "System.IO.Hashing" })
                Assert.That(names, Does.Contain($"onitu/plugin/{dll}.dll"), dll + " is in the plugin folder");
            Assert.That(names, Does.Contain("onitu/plugin/Onitu.Drivers.S3.deps.json"));
            Assert.That(names.Where(n => n.Contains("Onitu.Abstractions", StringComparison.Ordinal)), Is.Empty, "the contract comes from the host");
        });
    }

    [Test]
    public async Task The_installed_s3_plugin_runs_the_aws_sdk_from_its_own_context_and_fails_an_unreachable_store_with_a_reason()
    {
        var root = TestPaths.NewTemp();
        try
        {
            var (catalog, plugins) = InstalledDrivers.InstallAndLoad(root, PackagesFixture.LocalStorage, PackagesFixture.S3);
            var s3 = plugins.Single(p => p.Id == "s3");
            Assert.That(catalog.OriginOf("s3"), Does.StartWith("plugin "));
            Assert.That(AssemblyLoadContext.GetLoadContext(catalog.Find("s3")!.GetType().Assembly), Is.SameAs(s3.Context), "the driver lives in its own context");

            Directory.CreateDirectory(Path.Combine(root, "a", "docs"));
            await File.WriteAllTextAsync(Path.Combine(root, "a", "docs", "hello.txt"), "hello");
            var port = ClosedPort();
            SyncReport report;
            await using (var engine = InstalledDrivers.CreateEngine(root, InstalledDrivers.LocalService("a") + S3Service("b", port), catalog))
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
                report = await engine.SyncOnceAsync(timeout.Token);
            }

            var errors = string.Join(Environment.NewLine, report.Errors);
            Assert.That(report.Errors, Has.Some.StartsWith("service 'b' is failing: "), errors);
            var failure = report.Errors.First(e => e.StartsWith("service 'b' is failing: ", StringComparison.Ordinal));
            Assert.That(failure, Does.Contain("bucket 'onitu-nowhere'").And.Contain($"127.0.0.1:{port}").And.Contain("could not be reached"),
                "the store's failure, in the driver's words");
            foreach (var word in InstalledDrivers.LoadFailureWords)
                Assert.That(errors, Does.Not.Contain(word), "the plugin's dependencies resolved");
            Assert.That(errors, Does.Not.Contain("not-a-real-secret"), "secrets never appear");
            Assert.That(report.PendingJobs, Is.EqualTo(1), "the file waits for the failing service");

            // The driver ran the SDK (it built a client and sent a request): the SDK is the plugin's, not the host's.
            foreach (var name in new[] { "Onitu.Drivers.S3", "AWSSDK.Core", "AWSSDK.S3" })
                InstalledDrivers.AssertLoadedInPlugin(s3, name);
        }
        finally
        {
            TestPaths.TryDelete(root);
        }
    }

    [Test]
    public async Task An_s3_package_missing_a_dependency_fails_its_service_naming_the_missing_assembly()
    {
        // The other side of the test above: what the engine reports when the closure does not resolve in the context.
        var root = TestPaths.NewTemp();
        try
        {
            var broken = PluginTests.CopyWith(PackagesFixture.S3, root, "onitu/plugin/AWSSDK.Core.dll", null, "Onitu.Drivers.S3.nupkg");
            var (catalog, _) = InstalledDrivers.InstallAndLoad(root, PackagesFixture.LocalStorage, broken);
            SyncReport report;
            await using (var engine = InstalledDrivers.CreateEngine(root, InstalledDrivers.LocalService("a") + S3Service("b", ClosedPort()), catalog))
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
                report = await engine.SyncOnceAsync(timeout.Token);
            }
            Assert.That(report.Errors, Has.Some.StartsWith("service 'b' is failing: ").And.Contains("AWSSDK.Core"), string.Join(Environment.NewLine, report.Errors));
        }
        finally
        {
            TestPaths.TryDelete(root);
        }
    }

    [Test]
    public async Task The_s3_plugins_context_is_collected_after_the_sdk_ran_and_the_plugin_was_unloaded()
    {
        // The SDK keeps HTTP handlers, timers and caches: none of them may pin the collectible context.
        var root = TestPaths.NewTemp();
        try
        {
            var weak = await RunThenUnloadAsync(root);
            for (var i = 0; i < 30 && weak.IsAlive; i++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                await Task.Delay(50);
            }
            Assert.That(weak.IsAlive, Is.False, "the plugin's load context was collected");
        }
        finally
        {
            TestPaths.TryDelete(root);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task<WeakReference> RunThenUnloadAsync(string root)
    {
        var (catalog, plugins) = InstalledDrivers.InstallAndLoad(root, PackagesFixture.S3);
        await using (var engine = InstalledDrivers.CreateEngine(root, S3Service("b", ClosedPort()), catalog))
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            var report = await engine.SyncOnceAsync(timeout.Token);
            Assert.That(report.Errors, Has.One.StartsWith("service 'b' is failing: "), "the driver ran the SDK");
        }
        var plugin = plugins.Single();
        Assert.That(plugin.Context.Assemblies.Select(a => a.GetName().Name), Does.Contain("AWSSDK.S3"));
        var weak = new WeakReference(plugin.Context);
        plugin.Unload();
        return weak;
    }

    [Test]
    public void The_installed_s3_plugin_checks_options_against_its_manifest_naming_the_service_and_the_option()
    {
        var root = TestPaths.NewTemp();
        try
        {
            var (catalog, _) = InstalledDrivers.InstallAndLoad(root, PackagesFixture.S3);
            var wrong = Assert.Throws<SetupException>(() => InstalledDrivers.CreateEngine(root, """
                  store:
                    driver: s3
                    options:
                      bucket: Not_A_Bucket
                      concurrency: many
                      colour: blue
                    folders: { docs: docs }
                """, catalog))!;
            Assert.That(wrong.Message, Does.Contain("services.store.options.bucket").And.Contain("option 'bucket'"));
            Assert.That(wrong.Message, Does.Contain("services.store.options.concurrency").And.Contain("option 'concurrency'"));
            Assert.That(wrong.Message, Does.Contain("services.store.options.colour").And.Contain("unknown option 'colour'"));

            // What the manifest cannot say is checked by the plugin's own code (IDriverOptionsValidator), across the context.
            var half = Assert.Throws<SetupException>(() => InstalledDrivers.CreateEngine(root, """
                  store:
                    driver: s3
                    options:
                      bucket: onitu-bucket
                      access-key: ONITUPLUGINTEST
                    folders: { docs: docs }
                """, catalog))!;
            Assert.That(half.Message, Does.Contain("services.store.options").And.Contain("option 'secret-key'").And.Contain("'access-key'"));
            Assert.That(half.Message, Does.Not.Contain("ONITUPLUGINTEST"), "a secret's value is never shown");
        }
        finally
        {
            TestPaths.TryDelete(root);
        }
    }

    /// <summary>An s3 service of a store at 127.0.0.1:<paramref name="port"/>, failing fast when nothing answers there.</summary>
    private static string S3Service(string name, int port) => $"""
          {name}:
            driver: s3
            options:
              bucket: onitu-nowhere
              endpoint: http://127.0.0.1:{port}
              region: us-east-1
              access-key: ONITUPLUGINTEST
              secret-key: "not-a-real-secret"
              max-retries: 0
              timeout-s: 5
            folders: {"{"} docs: docs {"}"}

        """;

    /// <summary>A port of 127.0.0.1 on which nothing listens (one the kernel just gave out and took back).</summary>
    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>
/// The s3 plugin against a real store: the private Ceph RADOS Gateway of tests/Shared/RadosGateway.cs (about 20 s to
/// start on a loaded 2-core machine), or the bucket ONITU_S3_TEST_BUCKET names; ignored with the reason when neither is there.
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed class S3PluginStoreTests
{
    private RadosGateway? _store;

    private RadosGateway Store => _store ?? throw new InvalidOperationException("The store did not start.");

    [OneTimeSetUp]
    public async Task StartStoreAsync() => _store = await RadosGateway.StartAsync();

    [OneTimeTearDown]
    public async Task StopStoreAsync()
    {
        if (_store is not null)
            await _store.DisposeAsync();
        _store = null;
    }

    [Test]
    public async Task The_installed_s3_plugin_round_trips_files_through_a_real_store()
    {
        var root = TestPaths.NewTemp();
        try
        {
            var (catalog, plugins) = InstalledDrivers.InstallAndLoad(root, PackagesFixture.LocalStorage, PackagesFixture.S3);
            var prefix = "plugin-" + Guid.NewGuid().ToString("N")[..12] + "/";
            var s3 = S3Service("b", Store, prefix);
            Directory.CreateDirectory(Path.Combine(root, "a", "docs", "sub"));
            var big = new byte[6 * 1024 * 1024 + 5]; // more than one 5 MiB part: a multipart upload
            Random.Shared.NextBytes(big);
            await File.WriteAllBytesAsync(Path.Combine(root, "a", "docs", "sub", "big.bin"), big);
            await File.WriteAllTextAsync(Path.Combine(root, "a", "docs", "hello.txt"), "through the s3 plugin");

            // Up: a -> s3.
            await SyncAsync(root, InstalledDrivers.LocalService("a") + s3, catalog, "up");
            // Down, with another state: s3 -> c; c's copy can only come from the store.
            var down = Directory.CreateDirectory(Path.Combine(root, "down")).FullName;
            Directory.CreateDirectory(Path.Combine(down, "c", "docs"));
            await SyncAsync(down, InstalledDrivers.LocalService("c") + s3, catalog, "down");

            Assert.That(await File.ReadAllTextAsync(Path.Combine(down, "c", "docs", "hello.txt")), Is.EqualTo("through the s3 plugin"));
            Assert.That(await File.ReadAllBytesAsync(Path.Combine(down, "c", "docs", "sub", "big.bin")), Is.EqualTo(big));
            var plugin = plugins.Single(p => p.Id == "s3");
            foreach (var name in new[] { "AWSSDK.Core", "AWSSDK.S3" })
                InstalledDrivers.AssertLoadedInPlugin(plugin, name);
        }
        finally
        {
            TestPaths.TryDelete(root);
        }
    }

    private static async Task SyncAsync(string root, string services, DriverCatalog catalog, string what)
    {
        await using var engine = InstalledDrivers.CreateEngine(root, services, catalog);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var report = await engine.SyncOnceAsync(timeout.Token);
        Assert.That(report.Errors, Is.Empty, what + ": " + string.Join(Environment.NewLine, report.Errors));
        Assert.That(report.PendingJobs, Is.Zero, what);
    }

    private static string S3Service(string name, RadosGateway store, string prefix) =>
        $"""
          {name}:
            driver: s3
            options:
        """ + "\n" + string.Concat(store.Options(prefix).Select(o => $"      {o.Key}: \"{o.Value}\"\n")) + """
              part-size: 5242880
            folders: { docs: docs }

        """;
}

/// <summary>The ssh plugin against the real sshd of tests/Shared/SshdFixture.cs, started once for this fixture.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class SshPluginTests
{
    private SshdFixture? _sshd;

    private SshdFixture Sshd => _sshd ?? throw new InvalidOperationException("sshd is not running.");

    [OneTimeSetUp]
    public async Task StartSshdAsync() => _sshd = await SshdFixture.StartAsync();

    [OneTimeTearDown]
    public async Task StopSshdAsync()
    {
        if (_sshd is not null)
            await _sshd.DisposeAsync();
        _sshd = null;
    }

    [Test]
    public async Task The_installed_ssh_plugin_syncs_files_both_ways_with_a_real_sshd()
    {
        var root = TestPaths.NewTemp();
        try
        {
            var (catalog, plugins) = InstalledDrivers.InstallAndLoad(root, PackagesFixture.LocalStorage, PackagesFixture.Ssh);
            var ssh = plugins.Single(p => p.Id == "ssh");
            Assert.That(catalog.OriginOf("ssh"), Does.StartWith("plugin "));

            var remote = Directory.CreateDirectory(Path.Combine(Sshd.DataDirectory, "plugin-" + Guid.NewGuid().ToString("N")[..12])).FullName;
            Directory.CreateDirectory(Path.Combine(remote, "docs", "sub"));
            Directory.CreateDirectory(Path.Combine(root, "a", "docs"));
            var big = new byte[3 * 1024 * 1024 + 17];
            Random.Shared.NextBytes(big);
            await File.WriteAllBytesAsync(Path.Combine(root, "a", "docs", "big.bin"), big);
            await File.WriteAllTextAsync(Path.Combine(root, "a", "docs", "local.txt"), "from the local disk");
            await File.WriteAllTextAsync(Path.Combine(remote, "docs", "sub", "remote.txt"), "from the ssh server");

            await using (var engine = InstalledDrivers.CreateEngine(root, InstalledDrivers.LocalService("a") + $"""
                  b:
                    driver: ssh
                    options:
                      host: 127.0.0.1
                      port: {Sshd.Port}
                      user: "{Sshd.User}"
                      root: "{remote}"
                      identity-file: "{Sshd.IdentityFile}"
                      known-hosts-file: "{Sshd.KnownHostsFile}"
                      ssh-options: "{SshdFixture.IsolatedSshOptions}"
                    folders: {"{"} docs: docs {"}"}

                """, catalog))
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
                var report = await engine.SyncOnceAsync(timeout.Token);
                Assert.That(report.Errors, Is.Empty, string.Join(Environment.NewLine, report.Errors) + Environment.NewLine + Sshd.SshdLog());
                Assert.That(report.PendingJobs, Is.Zero);
            }

            Assert.That(await File.ReadAllBytesAsync(Path.Combine(remote, "docs", "big.bin")), Is.EqualTo(big), "written over SFTP by the plugin");
            Assert.That(await File.ReadAllTextAsync(Path.Combine(remote, "docs", "local.txt")), Is.EqualTo("from the local disk"));
            Assert.That(await File.ReadAllTextAsync(Path.Combine(root, "a", "docs", "sub", "remote.txt")), Is.EqualTo("from the ssh server"),
                "read over SFTP by the plugin");
            InstalledDrivers.AssertLoadedInPlugin(ssh, "Onitu.Drivers.Ssh");
        }
        finally
        {
            TestPaths.TryDelete(root);
        }
    }
}
