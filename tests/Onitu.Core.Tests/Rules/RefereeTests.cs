namespace Onitu.Core.Tests.Rules;

using Onitu.Rules;
using Onitu.Setup;

public class RefereeTests
{
    // a: reads music only; b: writes music and docs only; c: docs (whitelisted notes) and images in photos;
    // d: a disabled mapping.
    private const string Setup = """
        name: referee
        folders:
          docs:
            blacklist: ["*.tmp"]
          music:
            type: audio
            min-size: 3
            max-size: 10
          photos:
        services:
          a:
            driver: d
            folders:
              docs:
              music:
                mode: r
          b:
            driver: d
            folders:
              docs:
                mode: w
              music:
                mode: w
              photos:
          c:
            driver: d
            folders:
              docs:
                mode: rw
                whitelist: ["notes/**"]
              photos:
                type: image
          d:
            driver: d
            folders:
              docs:
                mode: ""
        """;

    private Referee _referee = null!;

    [SetUp]
    public void CreateReferee() => _referee = new Referee(SetupLoader.Parse(Setup));

    [TestCase("a", "docs", true)]
    [TestCase("a", "music", true)]
    [TestCase("a", "photos", false)]
    [TestCase("c", "music", false)]
    [TestCase("nobody", "docs", false)]
    [TestCase("a", "nowhere", false)]
    public void Knows_which_service_maps_which_folder(string service, string folder, bool mapped) =>
        Assert.That(_referee.IsMapped(service, folder), Is.EqualTo(mapped));

    [TestCase("a", "docs", true, true)]
    [TestCase("a", "music", true, false)]
    [TestCase("b", "docs", false, true)]
    [TestCase("c", "docs", true, true)]
    [TestCase("d", "docs", false, false)]
    [TestCase("c", "music", false, false)]
    public void Modes_say_who_reads_and_who_writes(string service, string folder, bool read, bool write)
    {
        Assert.That(_referee.CanRead(service, folder), Is.EqualTo(read));
        Assert.That(_referee.CanWrite(service, folder), Is.EqualTo(write));
    }

    [Test]
    public void A_file_goes_to_every_other_writer_whose_rules_accept_it_in_setup_order()
    {
        Assert.That(_referee.GetTargets("a", "docs", "notes/x.txt", 1, "text/plain"), Is.EqualTo(new[] { "b", "c" }));
        Assert.That(_referee.GetTargets("c", "docs", "notes/x.txt", 1, "text/plain"), Is.EqualTo(new[] { "a", "b" }));
    }

    [Test]
    public void A_target_whose_whitelist_refuses_the_file_is_skipped() =>
        Assert.That(_referee.GetTargets("a", "docs", "other/x.txt", 1, "text/plain"), Is.EqualTo(new[] { "b" }));

    [Test]
    public void A_source_that_may_not_read_sends_nothing()
    {
        Assert.That(_referee.GetTargets("b", "docs", "notes/x.txt", 1, "text/plain"), Is.Empty);
        Assert.That(_referee.GetTargets("d", "docs", "notes/x.txt", 1, "text/plain"), Is.Empty);
    }

    [Test]
    public void A_file_the_source_rules_refuse_is_never_read_from_it() =>
        Assert.That(_referee.GetTargets("c", "docs", "other/x.txt", 1, "text/plain"), Is.Empty);

    [Test]
    public void Blacklisted_files_go_nowhere() =>
        Assert.That(_referee.GetTargets("a", "docs", "notes/x.tmp", 1, "text/plain"), Is.Empty);

    [TestCase(1, false)]
    [TestCase(2, false)]
    [TestCase(3, true)]
    [TestCase(5, true)]
    [TestCase(10, true)]
    [TestCase(11, false)]
    [TestCase(12, false)]
    public void Size_bounds_from_min_3_to_max_10_are_inclusive(long size, bool sent) =>
        Assert.That(_referee.GetTargets("a", "music", "song.mp3", size, "audio/mpeg"),
            sent ? Is.EqualTo(new[] { "b" }) : Is.Empty);

    [Test]
    public void Types_filter_what_a_folder_accepts()
    {
        Assert.That(_referee.GetTargets("a", "music", "doc.pdf", 5, "application/pdf"), Is.Empty);
        Assert.That(_referee.GetTargets("b", "photos", "x.png", 5, "image/png"), Is.EqualTo(new[] { "c" }));
        Assert.That(_referee.GetTargets("b", "photos", "x.txt", 5, "text/plain"), Is.Empty);
        Assert.That(_referee.GetTargets("c", "photos", "x.txt", 5, "text/plain"), Is.Empty, "c's own rules refuse it");
    }

    [Test]
    public void A_source_that_does_not_map_the_folder_sends_nothing()
    {
        Assert.That(_referee.GetTargets("a", "photos", "x.png", 5, "image/png"), Is.Empty);
        Assert.That(_referee.GetTargets("nobody", "docs", "x", 5, "text/plain"), Is.Empty);
        Assert.That(_referee.GetTargets("a", "nowhere", "x", 5, "text/plain"), Is.Empty);
    }

    [Test]
    public void Accepts_applies_the_effective_rules_of_the_service()
    {
        Assert.That(_referee.Accepts("c", "docs", "notes/a.txt", 1, "text/plain"), Is.True);
        Assert.That(_referee.Accepts("c", "docs", "other/a.txt", 1, "text/plain"), Is.False);
        Assert.That(_referee.Accepts("c", "docs", "notes/a.tmp", 1, "text/plain"), Is.False, "the folder's blacklist holds on c");
        Assert.That(_referee.Accepts("c", "music", "a.mp3", 5, "audio/mpeg"), Is.False, "not mapped");
    }

    [Test]
    public void GetRules_returns_the_merged_rules()
    {
        var rules = _referee.GetRules("c", "docs")!;
        Assert.That(rules.Blacklist, Is.EqualTo(new[] { "*.tmp" }));
        Assert.That(rules.Whitelist, Is.EqualTo(new[] { "notes/**" }));
        Assert.That(rules.Mode, Is.EqualTo(AccessMode.ReadWrite));
        Assert.That(_referee.GetRules("c", "music"), Is.Null);
    }

    [Test]
    public void A_folder_wide_mode_applies_unless_a_service_overrides_it()
    {
        var referee = new Referee(new OnituSetup("s",
            [new("f", new FolderRules { Mode = AccessMode.Read })],
            [
                new ServiceSetup("x", "d", new Dictionary<string, object?>(), [new ServiceFolderSetup("f", "f")]),
                new ServiceSetup("y", "d", new Dictionary<string, object?>(), [new ServiceFolderSetup("f", "f", new FolderRules { Mode = AccessMode.ReadWrite })]),
            ]));
        Assert.That(referee.CanWrite("x", "f"), Is.False);
        Assert.That(referee.CanWrite("y", "f"), Is.True);
        Assert.That(referee.GetTargets("x", "f", "a", 1, "text/plain"), Is.EqualTo(new[] { "y" }));
        Assert.That(referee.GetTargets("y", "f", "a", 1, "text/plain"), Is.Empty);
    }

    [Test]
    public void No_targets_is_an_empty_list_not_null() =>
        Assert.That(_referee.GetTargets("b", "docs", "x", 1, "text/plain"), Is.Not.Null.And.Empty);
}
