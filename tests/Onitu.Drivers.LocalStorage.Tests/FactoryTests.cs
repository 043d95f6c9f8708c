namespace Onitu.Drivers.LocalStorage.Tests;

public class FactoryTests
{
    [Test]
    public void The_manifest_describes_the_driver_and_its_options()
    {
        var manifest = new LocalStorageDriverFactory().Manifest;

        Assert.Multiple(() =>
        {
            Assert.That(manifest.Id, Is.EqualTo("local_storage"));
            Assert.That(manifest.Name, Is.EqualTo("Local storage"));
            Assert.That(manifest.Description, Is.Not.Empty);
            Assert.That(manifest.EntryType, Is.EqualTo(typeof(LocalStorageDriverFactory).FullName));
            Assert.That(manifest.Options.Keys, Is.EquivalentTo(new[] { "root", "fsync", "debounce-ms" }));
            Assert.That(manifest.Options["root"].Type, Is.EqualTo(OptionType.String));
            Assert.That(manifest.Options["root"].IsMandatory, Is.True, "a service must say where its files are");
            Assert.That(manifest.Options["fsync"].Type, Is.EqualTo(OptionType.Boolean));
            Assert.That(manifest.Options["fsync"].Default, Is.EqualTo(false));
            Assert.That(manifest.Options["debounce-ms"].Type, Is.EqualTo(OptionType.Integer));
            Assert.That(manifest.Options["debounce-ms"].Default, Is.EqualTo(20L));
            Assert.That((manifest.Options["debounce-ms"].Minimum, manifest.Options["debounce-ms"].Maximum), Is.EqualTo((0d, 60_000d)),
                "the range the driver enforces is the manifest's, so that onitu validate checks it");
            Assert.That(manifest.Options.Values.Where(o => o.Key != "root").Select(o => o.IsMandatory), Is.All.False);
            Assert.That(manifest.Options.Values.Select(o => o.IsSecret), Is.All.False);
        });
    }

    [Test]
    public void The_manifest_is_read_once_and_shipped_beside_the_assembly()
    {
        var one = new LocalStorageDriverFactory();
        var other = new LocalStorageDriverFactory();
        var shipped = Path.Combine(Path.GetDirectoryName(typeof(LocalStorageDriverFactory).Assembly.Location)!, "manifest.json");

        Assert.Multiple(() =>
        {
            Assert.That(one.Manifest, Is.SameAs(other.Manifest));
            Assert.That(File.Exists(shipped), Is.True, shipped);
            Assert.That(DriverManifest.Parse(File.ReadAllText(shipped)).Id, Is.EqualTo("local_storage"));
        });
    }

    [Test]
    public async Task The_factory_creates_a_driver_with_every_capability()
    {
        var plug = new RecordingPlug(Path.GetTempPath(), [new FolderMapping("docs", "docs")]);

        await using var driver = new LocalStorageDriverFactory().Create(plug);

        Assert.That(driver, Is.InstanceOf<IChunkedReader>().And.InstanceOf<IChunkedWriter>().And.InstanceOf<INativeMove>());
    }

    [TestCase(-1L)]
    [TestCase(600_000L)]
    public void An_out_of_range_debounce_is_refused(long debounce)
    {
        var plug = new RecordingPlug(Path.GetTempPath(), [new FolderMapping("docs", "docs")], new Dictionary<string, object?> { ["debounce-ms"] = debounce });

        Assert.That(() => new LocalStorageDriverFactory().Create(plug), Throws.InstanceOf<DriverException>().With.Message.Contains("debounce-ms"));
    }

    [TestCase("same", "same")]
    [TestCase("parent", "parent/child")]
    [TestCase("parent/child", "parent")]
    public void Folders_that_overlap_on_disk_are_refused(string first, string second)
    {
        var plug = new RecordingPlug(Path.GetTempPath(), [new FolderMapping("a", first), new FolderMapping("b", second)]);

        Assert.That(() => new LocalStorageDriverFactory().Create(plug), Throws.InstanceOf<DriverException>().With.Message.Contains("overlap"));
    }

    [Test]
    public void Sibling_folders_with_a_common_name_prefix_do_not_overlap()
    {
        var plug = new RecordingPlug(Path.GetTempPath(), [new FolderMapping("a", "music"), new FolderMapping("b", "music-old")]);

        Assert.That(() => new LocalStorageDriverFactory().Create(plug), Throws.Nothing);
    }
}
