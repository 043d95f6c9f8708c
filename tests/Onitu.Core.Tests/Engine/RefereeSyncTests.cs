namespace Onitu.Core.Tests.Engine;

/// <summary>The Referee's rules applied end to end by the engine.</summary>
public class RefereeSyncTests
{
    [Test]
    public async Task Three_services_receive_only_the_folders_they_map_in_the_modes_they_allow()
    {
        var yaml = """
            name: subsets
            folders:
              music: {}
              docs: {}
            services:
              laptop:
                driver: local_storage
                options: { root: laptop }
                folders: { music: music, docs: docs }
              nas:
                driver: local_storage
                options: { root: nas }
                folders:
                  music: { path: music, mode: w }
              phone:
                driver: local_storage
                options: { root: phone }
                folders:
                  docs: { path: docs, mode: r }
            """;
        await using var h = new SyncHarness(yaml);
        h.Write("laptop", "music/song.mp3", "la la");
        h.Write("laptop", "docs/cv.pdf", "cv");
        h.Write("nas", "music/nas-only.mp3", "not read: nas is write-only");
        h.Write("phone", "docs/photo-note.txt", "read from phone");

        await h.SyncExpectingSuccessAsync();

        Assert.That(h.Read("nas", "music/song.mp3"), Is.EqualTo("la la"), "w: nas receives");
        Assert.That(h.Exists("laptop", "music/nas-only.mp3"), Is.False, "w: nothing is read from nas");
        Assert.That(h.Exists("nas", "docs/cv.pdf"), Is.False, "nas does not map docs");
        Assert.That(h.Read("laptop", "docs/photo-note.txt"), Is.EqualTo("read from phone"), "r: phone is read");
        Assert.That(h.Exists("phone", "docs/cv.pdf"), Is.False, "r: nothing is written to phone");
        Assert.That(h.Exists("phone", "music/song.mp3"), Is.False, "phone does not map music");
    }

    [Test]
    public async Task Min_and_max_size_are_inclusive_bounds()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices(extraServiceB: "min-size: 3\nmax-size: 10"));
        foreach (var size in new[] { 1, 5, 10, 11, 12 })
            h.Write("A", $"docs/s{size}.bin", new byte[size]);

        await h.SyncExpectingSuccessAsync();

        Assert.That(h.Tree("B", "docs").Keys, Is.EquivalentTo(new[] { "s5.bin", "s10.bin" }));
    }

    [Test]
    public async Task Blacklist_whitelist_and_types_filter_what_a_service_receives()
    {
        var yaml = """
            name: filters
            folders:
              docs:
                blacklist: ["*.tmp", "cache/"]
            services:
              A: { driver: local_storage, options: { root: A }, folders: { docs: docs } }
              Texts:
                driver: local_storage
                options: { root: Texts }
                folders:
                  docs: { path: docs, whitelist: ["*.txt", "*.md"] }
              Images:
                driver: local_storage
                options: { root: Images }
                folders:
                  docs: { path: docs, type: ["image"] }
            """;
        await using var h = new SyncHarness(yaml);
        foreach (var name in new[] { "a.txt", "b.md", "c.jpg", "d.png", "e.tmp", "cache/f.txt", "g.bin" })
            h.Write("A", "docs/" + name, name);

        await h.SyncExpectingSuccessAsync();

        Assert.That(h.Tree("Texts", "docs").Keys, Is.EquivalentTo(new[] { "a.txt", "b.md" }));
        Assert.That(h.Tree("Images", "docs").Keys, Is.EquivalentTo(new[] { "c.jpg", "d.png" }));
    }

    [Test]
    public async Task A_file_that_grows_past_min_size_is_sent_then()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices(extraServiceB: "min-size: 100"));
        h.Write("A", "docs/grows.txt", "small");
        await h.SyncExpectingSuccessAsync();
        Assert.That(h.Exists("B", "docs/grows.txt"), Is.False);

        h.Write("A", "docs/grows.txt", new string('g', 150), DateTime.UtcNow.AddSeconds(3));
        await h.SyncExpectingSuccessAsync();
        Assert.That(h.Read("B", "docs/grows.txt"), Has.Length.EqualTo(150));
    }

    [Test]
    public async Task A_blacklisted_file_renamed_to_an_allowed_name_is_sent_and_moves_between_folders_follow_the_rules()
    {
        var yaml = """
            name: moves
            folders:
              inbox:
                blacklist: ["*.part"]
              archive: {}
            services:
              A: { driver: local_storage, options: { root: A }, folders: { inbox: inbox, archive: archive } }
              B: { driver: local_storage, options: { root: B }, folders: { inbox: inbox, archive: archive } }
              InboxOnly: { driver: local_storage, options: { root: C }, folders: { inbox: inbox } }
            """;
        await using var h = new SyncHarness(yaml);
        foreach (var dir in new[] { "A/inbox", "A/archive", "B/inbox", "B/archive", "C/inbox" })
            Directory.CreateDirectory(h.PathOf(dir));
        await h.Engine.StartAsync();
        await h.Engine.WaitUntilIdleAsync(new CancellationTokenSource(SyncHarness.Timeout()).Token);

        h.Write("A", "inbox/download.part", "payload");
        await h.Engine.WaitUntilIdleAsync(new CancellationTokenSource(SyncHarness.Timeout()).Token);
        await Task.Delay(300);
        Assert.That(h.Exists("B", "inbox/download.part"), Is.False, "blacklisted");

        File.Move(h.PathOf("A", "inbox/download.part"), h.PathOf("A", "inbox/download.zip"));
        await SyncHarness.EventuallyAsync(() => h.Exists("B", "inbox/download.zip") && h.Exists("C", "inbox/download.zip"), "renamed file sent");

        File.Move(h.PathOf("A", "inbox/download.zip"), h.PathOf("A", "archive/download.zip"));
        await SyncHarness.EventuallyAsync(() => h.Exists("B", "archive/download.zip") && !h.Exists("B", "inbox/download.zip"), "moved to archive on B");
        await SyncHarness.EventuallyAsync(() => !h.Exists("C", "inbox/download.zip"), "InboxOnly loses the file moved out of its folders");

        File.Move(h.PathOf("A", "archive/download.zip"), Path.Combine(h.Root, "outside.zip"));
        await SyncHarness.EventuallyAsync(() => !h.Exists("B", "archive/download.zip"), "moved out of every folder: deleted on the peers");
    }
}
