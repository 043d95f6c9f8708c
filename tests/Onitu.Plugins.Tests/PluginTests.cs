using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using Microsoft.Extensions.Logging.Abstractions;
using Onitu.Drivers;

namespace Onitu.Plugins.Tests;

[Parallelizable(ParallelScope.All)]
public sealed class PluginTests
{
    private static (PluginInstaller Installer, string Root) NewInstaller()
    {
        var root = TestPaths.NewTemp();
        return (new PluginInstaller(Path.Combine(root, "plugins")), root);
    }

    [Test]
    public void The_packed_driver_is_a_complete_plugin_without_the_contract()
    {
        using var zip = ZipFile.OpenRead(PackagesFixture.LocalStorage);
        var names = zip.Entries.Select(e => e.FullName).ToList();
        Assert.That(names, Does.Contain("onitu/manifest.json"));
        Assert.That(names, Does.Contain("onitu/plugin/Onitu.Drivers.LocalStorage.dll"));
        Assert.That(names, Does.Contain("onitu/plugin/Onitu.Drivers.LocalStorage.deps.json"));
        Assert.That(names.Where(n => n.Contains("Onitu.Abstractions", StringComparison.Ordinal)), Is.Empty, "the contract comes from the host");
        Assert.That(names.Where(n => n.Contains("Microsoft.Extensions.", StringComparison.Ordinal)), Is.Empty, "contract assemblies come from the host");
        using var reader = new StreamReader(zip.GetEntry("Onitu.Drivers.LocalStorage.nuspec")!.Open());
        var nuspec = reader.ReadToEnd();
        Assert.That(nuspec, Does.Contain("onitu-driver").And.Contain("<license type=\"expression\">MIT</license>").And.Contain("<description>"));

        using var echo = ZipFile.OpenRead(PackagesFixture.EchoA);
        Assert.That(echo.GetEntry("onitu/plugin/Newtonsoft.Json.dll"), Is.Not.Null, "private dependencies are inside");
    }

    [Test]
    public void An_installed_plugin_loads_with_the_hosts_contract_types()
    {
        var (installer, root) = NewInstaller();
        try
        {
            var result = installer.Install(PackagesFixture.LocalStorage);
            Assert.That(result.Plugin.Directory, Is.EqualTo(Path.Combine(installer.PluginsDirectory, "Onitu.Drivers.LocalStorage", "0.1.0")));
            Assert.That(result.Warnings, Is.Empty);

            var plugin = PluginDriverLoader.Load(result.Plugin, NullLogger.Instance);
            Assert.That(plugin.Factory, Is.InstanceOf<IDriverFactory>(), "the factory is the host's IDriverFactory");
            Assert.That(plugin.Factory.Manifest.Id, Is.EqualTo("local_storage"));
            var type = plugin.Factory.GetType();
            Assert.That(AssemblyLoadContext.GetLoadContext(type.Assembly), Is.SameAs(plugin.Context), "the driver lives in its own context");
            Assert.That(AssemblyLoadContext.GetLoadContext(type.GetInterfaces().Single(i => i.Name == nameof(IDriverFactory)).Assembly),
                Is.SameAs(AssemblyLoadContext.Default), "the contract comes from the host");
            plugin.Unload();
        }
        finally
        {
            TestPaths.TryDelete(root);
        }
    }

    [Test]
    public void Two_drivers_load_side_by_side_with_their_own_private_dependency_versions()
    {
        var (installer, root) = NewInstaller();
        try
        {
            installer.Install(PackagesFixture.EchoA);
            installer.Install(PackagesFixture.EchoB);
            var catalog = new DriverCatalog([]);
            var loaded = PluginDriverLoader.LoadAll(installer.PluginsDirectory, catalog, NullLogger.Instance);

            Assert.That(catalog.Ids, Is.EqualTo(new[] { "echo_a", "echo_b" }));
            Assert.That(catalog.OriginOf("echo_a"), Does.StartWith("plugin ").And.Contain("Onitu.TestDrivers.EchoA"));
            Assert.That(loaded, Has.Count.EqualTo(2));
            string VersionOf(string id)
            {
                var factory = catalog.Find(id)!;
                return (string)factory.GetType().GetProperty("NewtonsoftVersion")!.GetValue(factory)!;
            }
            var host = typeof(Newtonsoft.Json.JsonConvert).Assembly.GetName().Version;
            Assert.Multiple(() =>
            {
                Assert.That(VersionOf("echo_a"), Is.EqualTo("13.0.1"));
                Assert.That(VersionOf("echo_b"), Is.EqualTo("12.0.3"));
                Assert.That(host, Is.EqualTo(new Version(13, 0, 0, 0)), "the host keeps its own Newtonsoft.Json");
            });
            foreach (var plugin in loaded)
                plugin.Unload();
        }
        finally
        {
            TestPaths.TryDelete(root);
        }
    }

    [Test]
    public async Task A_plugin_loaded_local_storage_driver_syncs_files()
    {
        var (installer, root) = NewInstaller();
        try
        {
            installer.Install(PackagesFixture.LocalStorage);
            var catalog = new DriverCatalog([]);
            PluginDriverLoader.LoadAll(installer.PluginsDirectory, catalog, NullLogger.Instance);
            Assert.That(catalog.OriginOf("local_storage"), Does.StartWith("plugin "));

            Directory.CreateDirectory(Path.Combine(root, "a", "docs"));
            Directory.CreateDirectory(Path.Combine(root, "b", "docs"));
            await File.WriteAllTextAsync(Path.Combine(root, "a", "docs", "hello.txt"), "hello through a plugin");
            var setup = Path.Combine(root, "setup.yml");
            await File.WriteAllTextAsync(setup, """
                name: plugin-sync
                folders:
                  docs: {}
                services:
                  a:
                    driver: local_storage
                    options: { root: a }
                    folders: { docs: docs }
                  b:
                    driver: local_storage
                    options: { root: b }
                    folders: { docs: docs }
                """);
            await using (var engine = SyncEngine.Create(new SyncEngineOptions { SetupFile = setup }, catalog, NullLoggerFactory.Instance))
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                var report = await engine.SyncOnceAsync(timeout.Token);
                Assert.That(report.Errors, Is.Empty);
            }
            var copy = Path.Combine(root, "b", "docs", "hello.txt");
            Assert.That(File.Exists(copy), Is.True, "the file was copied by the plugin driver");
            Assert.That(await File.ReadAllTextAsync(copy), Is.EqualTo("hello through a plugin"));
        }
        finally
        {
            TestPaths.TryDelete(root);
        }
    }

    [Test]
    public void A_package_with_a_bad_manifest_is_refused()
    {
        var (installer, root) = NewInstaller();
        try
        {
            var bad = CopyWith(PackagesFixture.EchoA, root, "onitu/manifest.json",
                """{ "id": "Echo A!", "entryType": "X", "options": { "x": { "type": "colour" } } }""");
            var e = Assert.Throws<PluginException>(() => installer.Install(bad))!;
            Assert.That(e.Message, Does.Contain("invalid onitu/manifest.json"));
            Assert.That(Directory.Exists(installer.PluginsDirectory) ? Directory.EnumerateFileSystemEntries(installer.PluginsDirectory) : [], Is.Empty);
        }
        finally
        {
            TestPaths.TryDelete(root);
        }
    }

    [Test]
    public void A_package_without_a_manifest_is_not_a_driver_package()
    {
        var (installer, root) = NewInstaller();
        try
        {
            var path = CopyWith(PackagesFixture.EchoA, root, "onitu/manifest.json", null);
            var e = Assert.Throws<PluginException>(() => installer.Install(path))!;
            Assert.That(e.Message, Does.Contain("not an Onitu driver package").And.Contain("onitu/manifest.json"));
        }
        finally
        {
            TestPaths.TryDelete(root);
        }
    }

    [Test]
    public void A_driver_built_against_a_newer_contract_is_refused_naming_both_versions()
    {
        var (installer, root) = NewInstaller();
        try
        {
            var e = Assert.Throws<PluginException>(() => installer.Install(PackagesFixture.Future))!;
            Assert.That(e.Message, Does.Contain("99.0.0.0").And.Contain(typeof(IDriverFactory).Assembly.GetName().Version!.ToString()));

            // Unpacked by hand (bypassing the installer), the loader refuses it too.
            var dir = Path.Combine(root, "manual", "Onitu.TestDrivers.Future", "1.0.0");
            ZipFile.ExtractToDirectory(PackagesFixture.Future, dir);
            var load = Assert.Throws<PluginException>(() => PluginDriverLoader.Load(dir))!;
            Assert.That(load.Message, Does.Contain("99.0.0.0").And.Contain(typeof(IDriverFactory).Assembly.GetName().Version!.ToString()));
        }
        finally
        {
            TestPaths.TryDelete(root);
        }
    }

    [Test]
    public void A_corrupt_package_is_refused()
    {
        var (installer, root) = NewInstaller();
        try
        {
            var bytes = File.ReadAllBytes(PackagesFixture.EchoA);
            var truncated = Path.Combine(root, "truncated.nupkg");
            File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
            var e = Assert.Throws<PluginException>(() => installer.Install(truncated))!;
            Assert.That(e.Message, Does.Contain("not a valid package"));

            var garbage = Path.Combine(root, "garbage.nupkg");
            File.WriteAllText(garbage, "this is not a zip");
            Assert.That(() => installer.Install(garbage), Throws.TypeOf<PluginException>().With.Message.Contains("not a valid package"));
        }
        finally
        {
            TestPaths.TryDelete(root);
        }
    }

    [Test]
    public void A_zip_slip_entry_is_refused_before_anything_is_written()
    {
        var (installer, root) = NewInstaller();
        try
        {
            var path = CopyWith(PackagesFixture.EchoA, root, "../../escaped.txt", "gotcha");
            var e = Assert.Throws<PluginException>(() => installer.Install(path))!;
            Assert.That(e.Message, Does.Contain("../../escaped.txt").And.Contain("outside"));
            Assert.That(Directory.EnumerateFiles(root, "escaped.txt", SearchOption.AllDirectories), Is.Empty);
            Assert.That(File.Exists(Path.Combine(Path.GetDirectoryName(installer.PluginsDirectory)!, "escaped.txt")), Is.False);

            var absolute = CopyWith(PackagesFixture.EchoA, root, "/tmp/escaped.txt", "gotcha", name: "absolute.nupkg");
            Assert.That(() => installer.Install(absolute), Throws.TypeOf<PluginException>().With.Message.Contains("outside"));
        }
        finally
        {
            TestPaths.TryDelete(root);
        }
    }

    [Test]
    public void A_second_install_of_the_same_version_is_refused_unless_forced_and_remove_deletes_it()
    {
        var (installer, root) = NewInstaller();
        try
        {
            installer.Install(PackagesFixture.EchoB);
            var e = Assert.Throws<PluginException>(() => installer.Install(PackagesFixture.EchoB))!;
            Assert.That(e.Message, Does.Contain("Onitu.TestDrivers.EchoB 1.0.0 is already installed"));

            var forced = installer.Install(PackagesFixture.EchoB, force: true);
            Assert.That(forced.Replaced, Is.True);
            Assert.That(installer.List().Select(p => p.ToString()), Is.EqualTo(new[] { "echo_b (Onitu.TestDrivers.EchoB 1.0.0)" }));
            Assert.That(Directory.EnumerateDirectories(Path.Combine(installer.PluginsDirectory, "Onitu.TestDrivers.EchoB")).Select(Path.GetFileName),
                Is.EqualTo(new[] { "1.0.0" }), "no temporary folder is left behind");

            Assert.That(installer.Remove("echo_b"), Has.Count.EqualTo(1), "remove by driver id");
            Assert.That(installer.List(), Is.Empty);
            installer.Install(PackagesFixture.EchoB);
            Assert.That(installer.Remove("onitu.testdrivers.echob"), Has.Count.EqualTo(1), "remove by package id");
            Assert.That(installer.Remove("nothing"), Is.Empty);
        }
        finally
        {
            TestPaths.TryDelete(root);
        }
    }

    [Test]
    public void A_bundled_copy_of_the_contract_is_diagnosed_by_name()
    {
        var (installer, root) = NewInstaller();
        try
        {
            var path = CopyWith(PackagesFixture.EchoA, root, "onitu/plugin/Onitu.Abstractions.dll",
                File.ReadAllBytes(typeof(IDriverFactory).Assembly.Location));
            var result = installer.Install(path);
            Assert.That(result.Warnings, Has.One.Contains("Onitu.Abstractions.dll"));
            var plugin = PluginDriverLoader.Load(result.Plugin);
            Assert.That(plugin.Warnings, Has.One.Contains("Onitu.Abstractions.dll"));
            Assert.That(plugin.Factory, Is.InstanceOf<IDriverFactory>(), "the bundled copy is ignored");
            plugin.Unload();
        }
        finally
        {
            TestPaths.TryDelete(root);
        }
    }

    [Test]
    public void A_built_in_driver_wins_over_a_plugin_with_the_same_id()
    {
        var (installer, root) = NewInstaller();
        try
        {
            installer.Install(PackagesFixture.EchoA);
            installer.Install(PackagesFixture.EchoB);
            var catalog = new DriverCatalog([]);
            var first = PluginDriverLoader.Load(installer.List()[0]);
            catalog.Add(first.Factory, "built-in test");
            var loaded = PluginDriverLoader.LoadAll(installer.PluginsDirectory, catalog, NullLogger.Instance);
            Assert.That(loaded.Select(p => p.Id), Is.EqualTo(new[] { "echo_b" }));
            Assert.That(catalog.OriginOf("echo_a"), Is.EqualTo("built-in test"));
        }
        finally
        {
            TestPaths.TryDelete(root);
        }
    }

    [Test]
    public void Unloading_a_plugin_releases_its_load_context()
    {
        var (installer, root) = NewInstaller();
        try
        {
            var installed = installer.Install(PackagesFixture.EchoA).Plugin;
            var weak = LoadUseAndUnload(installed);
            for (var i = 0; i < 20 && weak.IsAlive; i++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
            Assert.That(weak.IsAlive, Is.False, "the collectible context was collected");
        }
        finally
        {
            TestPaths.TryDelete(root);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference LoadUseAndUnload(InstalledPlugin installed)
    {
        var plugin = PluginDriverLoader.Load(installed);
        Assert.That(plugin.Factory.Manifest.Id, Is.EqualTo("echo_a"));
        var weak = new WeakReference(plugin.Context);
        plugin.Unload();
        return weak;
    }

    /// <summary>Copies a package, replacing (or removing, with null) one entry, or adding it.</summary>
    internal static string CopyWith(string package, string root, string entryName, object? content, string name = "crafted.nupkg")
    {
        var path = Path.Combine(root, name);
        File.Copy(package, path);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Update);
        zip.GetEntry(entryName)?.Delete();
        if (content is not null)
        {
            using var stream = zip.CreateEntry(entryName).Open();
            var bytes = content as byte[] ?? System.Text.Encoding.UTF8.GetBytes((string)content);
            stream.Write(bytes);
        }
        return path;
    }
}
