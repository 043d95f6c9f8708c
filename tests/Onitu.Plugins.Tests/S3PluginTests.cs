using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using Onitu.Setup;

namespace Onitu.Plugins.Tests;

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
