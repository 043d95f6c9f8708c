namespace Onitu.Core.Tests.Rules;

using Onitu.Rules;

public class FolderRulesTests
{
    [Test]
    public void Empty_rules_accept_everything_and_read_write()
    {
        Assert.That(FolderRules.Empty.Accepts("any/path.bin", 0, "application/octet-stream"), Is.True);
        Assert.That(FolderRules.Empty.Accepts("x", long.MaxValue, "video/mp4"), Is.True);
        Assert.That(FolderRules.Empty.Mode, Is.Null);
        Assert.That(FolderRules.Empty.EffectiveMode, Is.EqualTo(AccessMode.ReadWrite));
    }

    [TestCase(2, false)]
    [TestCase(3, true)]
    [TestCase(5, true)]
    [TestCase(10, true)]
    [TestCase(11, false)]
    public void Size_bounds_are_inclusive(long size, bool accepted) =>
        Assert.That(new FolderRules { MinSize = 3, MaxSize = 10 }.Accepts("f", size, "text/plain"), Is.EqualTo(accepted));

    [Test]
    public void Types_accept_a_file_when_one_matches()
    {
        var rules = new FolderRules { Types = ["image/png", "audio"] };
        Assert.That(rules.Accepts("a.png", 1, "image/png"), Is.True);
        Assert.That(rules.Accepts("a.mp3", 1, "audio/mpeg"), Is.True);
        Assert.That(rules.Accepts("a.jpg", 1, "image/jpeg"), Is.False);
    }

    [Test]
    public void Blacklisted_paths_are_refused_and_a_whitelist_admits_only_its_paths()
    {
        var rules = new FolderRules { Blacklist = ["*.tmp", "cache/"], Whitelist = ["docs/**", "*.md"] };
        Assert.That(rules.Accepts("docs/a.txt", 1, "text/plain"), Is.True);
        Assert.That(rules.Accepts("x/readme.md", 1, "text/markdown"), Is.True);
        Assert.That(rules.Accepts("docs/a.tmp", 1, "text/plain"), Is.False, "blacklisted although whitelisted");
        Assert.That(rules.Accepts("cache/docs/a.md", 1, "text/markdown"), Is.False);
        Assert.That(rules.Accepts("src/a.cs", 1, "text/x-csharp"), Is.False, "not whitelisted");
    }

    [Test]
    public void With_recompiles_the_patterns()
    {
        var rules = new FolderRules { Whitelist = ["*.md"] };
        Assert.That(rules.Accepts("a.txt", 1, "text/plain"), Is.False); // compiles and caches
        var wider = rules with { Whitelist = ["*.txt"] };
        Assert.That(wider.Accepts("a.txt", 1, "text/plain"), Is.True);
        Assert.That(wider.Accepts("a.md", 1, "text/markdown"), Is.False);
        Assert.That(rules.Accepts("a.md", 1, "text/markdown"), Is.True);
    }

    [Test]
    public void The_more_specific_level_overrides_mode_types_sizes_and_whitelist()
    {
        var folder = new FolderRules { Mode = AccessMode.Read, Types = ["audio"], MinSize = 1, MaxSize = 100, Whitelist = ["a/**"] };
        var service = new FolderRules { Mode = AccessMode.Write, Types = ["image"], MinSize = 5, MaxSize = 50, Whitelist = ["b/**"] };
        var merged = folder.MergeWith(service);
        Assert.That(merged.Mode, Is.EqualTo(AccessMode.Write));
        Assert.That(merged.Types, Is.EqualTo(new[] { "image" }));
        Assert.That(merged.MinSize, Is.EqualTo(5));
        Assert.That(merged.MaxSize, Is.EqualTo(50));
        Assert.That(merged.Whitelist, Is.EqualTo(new[] { "b/**" }));
    }

    [Test]
    public void What_the_more_specific_level_leaves_unset_is_inherited()
    {
        var folder = new FolderRules { Mode = AccessMode.Read, Types = ["audio"], MinSize = 1, MaxSize = 100, Whitelist = ["a/**"], Blacklist = ["*.tmp"] };
        Assert.That(folder.MergeWith(FolderRules.Empty), Is.EqualTo(folder));
        var merged = folder.MergeWith(new FolderRules { MaxSize = 10 });
        Assert.That(merged, Is.EqualTo(folder with { MaxSize = 10 }));
        Assert.That(FolderRules.Empty.MergeWith(folder), Is.EqualTo(folder));
    }

    [Test]
    public void Blacklists_are_united_so_a_service_never_undoes_the_folder_blacklist()
    {
        var folder = new FolderRules { Blacklist = ["*.tmp", "*.bak"] };
        var service = new FolderRules { Blacklist = ["*.bak", "*.log"], Whitelist = ["**"] };
        var merged = folder.MergeWith(service);
        Assert.That(merged.Blacklist, Is.EqualTo(new[] { "*.tmp", "*.bak", "*.log" }));
        Assert.That(merged.Accepts("x.tmp", 1, "text/plain"), Is.False);
        Assert.That(merged.Accepts("x.log", 1, "text/plain"), Is.False);
        Assert.That(merged.Accepts("x.txt", 1, "text/plain"), Is.True);
    }

    [Test]
    public void Nobody_setting_the_mode_means_read_write() =>
        Assert.That(new FolderRules { MaxSize = 1 }.MergeWith(new FolderRules { MinSize = 0 }).EffectiveMode, Is.EqualTo(AccessMode.ReadWrite));

    [Test]
    public void Rules_compare_by_value()
    {
        var one = new FolderRules { Types = ["a"], Blacklist = ["x"] };
        var other = new FolderRules { Types = ["a"], Blacklist = [.. new[] { "x" }] };
        Assert.That(one, Is.EqualTo(other));
        Assert.That(one.GetHashCode(), Is.EqualTo(other.GetHashCode()));
        Assert.That(new FolderRules { Types = ["a"] }, Is.Not.EqualTo(new FolderRules { Types = ["b"] }));
    }

    [Test]
    public void ToString_shows_the_options_in_setup_spelling() =>
        Assert.That(new FolderRules { Mode = AccessMode.Read, MaxSize = 10, Blacklist = ["*.tmp"] }.ToString(),
            Is.EqualTo("{mode: 'r', max-size: 10, blacklist: [*.tmp]}"));
}
