namespace Onitu.Core.Tests.Engine;

/// <summary>The original Onitu functional suite, local to local, one sync pass at a time.</summary>
public class CopyTests
{
    [TestCase(0, true)]
    [TestCase(10, true)]
    [TestCase(100, true)]
    [TestCase(10 * 1024 * 1024, true, Description = "the kernel copies between two local disks")]
    [TestCase(0, false)]
    [TestCase(10, false)]
    [TestCase(100, false)]
    [TestCase(10 * 1024 * 1024, false, Description = "multipart: ten 1 MiB chunks through the engine")]
    public async Task A_file_is_copied_both_ways(int size, bool nativeCopy)
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices(), o => o.UseNativeCopy = nativeCopy);
        var content = SyncHarness.RandomBytes(size, seed: size);
        h.Write("A", "docs/from-a.bin", content);
        h.Write("B", "docs/from-b.bin", SyncHarness.RandomBytes(size, seed: size + 1));

        await h.SyncExpectingSuccessAsync();

        Assert.That(h.Tree("B", "docs"), Is.EqualTo(h.Tree("A", "docs")));
        Assert.That(File.ReadAllBytes(h.PathOf("B", "docs/from-a.bin")), Is.EqualTo(content));
        Assert.That(h.Tree("A", "docs"), Has.Count.EqualTo(2));
    }

    [Test]
    public async Task The_same_content_written_twice_is_synced_and_settles()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        h.Write("A", "docs/same.txt", "identical");
        await h.SyncExpectingSuccessAsync();
        h.Write("A", "docs/same.txt", "identical", DateTime.UtcNow.AddSeconds(5));
        await h.SyncExpectingSuccessAsync();

        Assert.That(h.Read("B", "docs/same.txt"), Is.EqualTo("identical"));
        var second = await h.SyncAsync();
        Assert.That(second.FilesSynced, Is.Zero, "an unchanged tree transfers nothing");
    }

    [Test]
    public async Task A_rewrite_smaller_then_bigger_truncates_and_extends_the_copy()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        h.Write("A", "docs/f.txt", new string('x', 1000));
        await h.SyncExpectingSuccessAsync();
        h.Write("A", "docs/f.txt", "short", DateTime.UtcNow.AddSeconds(2));
        await h.SyncExpectingSuccessAsync();
        Assert.That(h.Read("B", "docs/f.txt"), Is.EqualTo("short"));

        h.Write("A", "docs/f.txt", new string('y', 5000), DateTime.UtcNow.AddSeconds(4));
        await h.SyncExpectingSuccessAsync();
        Assert.That(h.Read("B", "docs/f.txt"), Is.EqualTo(new string('y', 5000)));
    }

    [Test]
    public async Task Deep_subdirectories_are_created()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        var deep = string.Join('/', Enumerable.Range(1, 12).Select(i => $"level{i}")) + "/leaf.txt";
        h.Write("A", "docs/" + deep, "deep");
        await h.SyncExpectingSuccessAsync();
        Assert.That(h.Read("B", "docs/" + deep), Is.EqualTo("deep"));
    }

    [TestCase(1)]
    [TestCase(10)]
    [TestCase(100)]
    public async Task The_startup_scan_finds_pre_existing_files(int count)
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        for (var i = 0; i < count; i++)
            h.Write("A", $"docs/dir{i % 7}/file{i}.txt", $"content {i}");

        await h.SyncExpectingSuccessAsync();

        Assert.That(h.Tree("B", "docs"), Has.Count.EqualTo(count));
        Assert.That(h.Tree("B", "docs"), Is.EqualTo(h.Tree("A", "docs")));
    }

    [Test]
    public async Task Files_updated_and_deleted_while_stopped_are_found_at_the_next_start()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        h.Write("A", "docs/keep.txt", "v1");
        h.Write("A", "docs/change.txt", "v1");
        h.Write("A", "docs/remove.txt", "v1");
        await h.SyncExpectingSuccessAsync();
        await h.RestartAsync();

        h.Write("A", "docs/change.txt", "v2 is longer", DateTime.UtcNow.AddSeconds(3));
        File.Delete(h.PathOf("A", "docs/remove.txt"));
        await h.SyncExpectingSuccessAsync();

        Assert.That(h.Read("B", "docs/change.txt"), Is.EqualTo("v2 is longer"));
        Assert.That(h.Exists("B", "docs/remove.txt"), Is.False);
        Assert.That(h.Read("B", "docs/keep.txt"), Is.EqualTo("v1"));
    }

    [Test]
    public async Task Awkward_names_round_trip()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        string[] names = ["with space.txt", "hash#percent%.txt", "quote'double\".txt", "été/日本語/файл.txt", new string('n', 200) + ".txt"];
        foreach (var name in names)
            h.Write("A", "docs/" + name, name);
        await h.SyncExpectingSuccessAsync();
        foreach (var name in names)
            Assert.That(h.Read("B", "docs/" + name), Is.EqualTo(name));
    }

    [Test]
    public async Task A_file_deleted_on_either_side_is_deleted_on_the_other()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        h.Write("A", "docs/a.txt", "a");
        h.Write("B", "docs/b.txt", "b");
        await h.SyncExpectingSuccessAsync();

        File.Delete(h.PathOf("A", "docs/b.txt"));
        File.Delete(h.PathOf("B", "docs/a.txt"));
        await h.SyncExpectingSuccessAsync();

        Assert.That(h.Tree("A", "docs"), Is.Empty);
        Assert.That(h.Tree("B", "docs"), Is.Empty);
    }

    [Test]
    public async Task A_deleted_directory_is_deleted_on_the_other_side()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices());
        for (var i = 0; i < 5; i++)
            h.Write("A", $"docs/gone/sub/f{i}.txt", "x");
        h.Write("A", "docs/stays.txt", "x");
        await h.SyncExpectingSuccessAsync();

        Directory.Delete(h.PathOf("B", "docs/gone"), recursive: true);
        await h.SyncExpectingSuccessAsync();

        Assert.That(Directory.Exists(h.PathOf("A", "docs/gone")), Is.False, "emptied directories are removed too");
        Assert.That(h.Tree("A", "docs").Keys, Is.EqualTo(new[] { "stays.txt" }));
    }
}
