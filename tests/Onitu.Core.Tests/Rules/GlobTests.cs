namespace Onitu.Core.Tests.Rules;

using Onitu.Rules;

public class GlobTests
{
    [TestCase("*.tmp", "a.tmp", true)]
    [TestCase("*.tmp", "a.tmpx", false)]
    [TestCase("*.tmp", ".tmp", true)]
    [TestCase("*", "anything", true)]
    [TestCase("a*b", "ab", true)]
    [TestCase("a*b", "axyzb", true)]
    [TestCase("a**b", "axyzb", true)] // "**" inside a segment is a plain "*"
    [TestCase("a**b", "ax/yb", false)]
    public void Star_matches_any_run_within_a_name(string pattern, string path, bool expected) =>
        Assert.That(Glob.IsMatch(pattern, path), Is.EqualTo(expected));

    [TestCase("?.txt", "a.txt", true)]
    [TestCase("?.txt", "ab.txt", false)]
    [TestCase("?.txt", ".txt", false)]
    [TestCase("a?c", "a/c", false)]
    public void Question_mark_matches_one_character_but_not_a_slash(string pattern, string path, bool expected) =>
        Assert.That(Glob.IsMatch(pattern, path), Is.EqualTo(expected));

    [TestCase("[abc].md", "b.md", true)]
    [TestCase("[abc].md", "d.md", false)]
    [TestCase("[a-c]x", "bx", true)]
    [TestCase("[a-c]x", "dx", false)]
    [TestCase("[!a-c]x", "dx", true)]
    [TestCase("[!a-c]x", "ax", false)]
    [TestCase("[^a]x", "bx", true)]
    [TestCase("[]]x", "]x", true)]
    [TestCase("[!]]x", "ax", true)]
    [TestCase("[!]]x", "]x", false)]
    [TestCase("[a-]x", "-x", true)]
    [TestCase("[abc", "[abc", true)] // unterminated: a plain '['
    [TestCase("x[.]y", "x.y", true)]
    [TestCase("x[.]y", "xay", false)]
    public void Brackets_match_character_classes(string pattern, string path, bool expected) =>
        Assert.That(Glob.IsMatch(pattern, path), Is.EqualTo(expected));

    [TestCase("**/*.md", "a.md", true)]
    [TestCase("**/*.md", "a/b/c.md", true)]
    [TestCase("a/**/b", "a/b", true)]
    [TestCase("a/**/b", "a/x/y/b", true)]
    [TestCase("a/**/b", "a/x/y/c", false)]
    [TestCase("a/**/b", "z/a/b", false)]
    [TestCase("a/**", "a/x", true)]
    [TestCase("a/**", "a/x/y", true)]
    [TestCase("a/**", "b/a/x", false)]
    [TestCase("**", "any/depth/at/all", true)]
    [TestCase("**/cache/**", "x/cache/y/z", true)]
    public void Double_star_matches_any_depth_including_none(string pattern, string path, bool expected) =>
        Assert.That(Glob.IsMatch(pattern, path), Is.EqualTo(expected));

    [TestCase("*.tmp", "a/b/c.tmp", true)]
    [TestCase("c.tmp", "a/b/c.tmp", true)]
    [TestCase("b", "a/b/c.tmp", true)] // a parent directory named b: everything beneath it
    [TestCase("node_modules", "web/node_modules/x/y.js", true)]
    [TestCase("*.tmp", "a/b/c.tmp.bak", false)]
    public void A_pattern_without_slash_matches_a_name_at_any_depth(string pattern, string path, bool expected) =>
        Assert.That(Glob.IsMatch(pattern, path), Is.EqualTo(expected));

    [TestCase("docs/*.md", "docs/a.md", true)]
    [TestCase("docs/*.md", "x/docs/a.md", false)]
    [TestCase("docs/*.md", "docs/sub/a.md", false)]
    [TestCase("/top.txt", "top.txt", true)]
    [TestCase("/top.txt", "a/top.txt", false)]
    [TestCase("docs/private", "docs/private/key.pem", true)]
    [TestCase("docs/private", "docs/privateer.txt", false)]
    public void A_pattern_with_a_slash_is_anchored_at_the_folder_root(string pattern, string path, bool expected) =>
        Assert.That(Glob.IsMatch(pattern, path), Is.EqualTo(expected));

    [TestCase("build/", "build/out.o", true)]
    [TestCase("build/", "build/deep/out.o", true)]
    [TestCase("build/", "src/build/out.o", true)]
    [TestCase("build/", "build", false)] // a file named build is not a directory
    [TestCase("build/", "builder/x", false)]
    [TestCase("src/build/", "src/build/a", true)]
    [TestCase("src/build/", "x/src/build/a", false)]
    [TestCase("/cache/", "cache/a", true)] // docs/setup.md's example: a leading / anchors it
    [TestCase("/cache/", "sub/cache/a", false)]
    [TestCase("cache/", "sub/cache/a", true)]
    public void A_pattern_ending_with_slash_matches_everything_under_that_directory(string pattern, string path, bool expected) =>
        Assert.That(Glob.IsMatch(pattern, path), Is.EqualTo(expected));

    [TestCase("été/*.jpg", "été/ñ.jpg", true)]
    [TestCase("?.jpg", "ñ.jpg", true)]
    [TestCase("?.txt", "😀.txt", true)] // one character, two UTF-16 code units
    [TestCase("*.txt", "日本語/ファイル.txt", true)]
    [TestCase("[éè]t", "ét", true)]
    public void Unicode_names_match_by_character(string pattern, string path, bool expected) =>
        Assert.That(Glob.IsMatch(pattern, path), Is.EqualTo(expected));

    [Test]
    public void Decomposed_names_match_composed_patterns() =>
        Assert.That(Glob.IsMatch("été/*", "e\u0301te\u0301/x.txt"), Is.True);

    [TestCase("*.JPG", "a.jpg", false)]
    [TestCase("a+b (1).txt", "a+b (1).txt", true)]
    [TestCase("file.txt", "fileXtxt", false)]
    [TestCase("$x^{1}|y", "$x^{1}|y", true)]
    [TestCase(@"\*.txt", "*.txt", true)]
    [TestCase(@"\*.txt", "a.txt", false)]
    [TestCase("a#b c", "a#b c", true)]
    public void Matching_is_ordinal_and_regex_characters_are_literal(string pattern, string path, bool expected) =>
        Assert.That(Glob.IsMatch(pattern, path), Is.EqualTo(expected));

    [Test]
    public void A_reversed_range_is_a_format_error()
    {
        Assert.That(() => Glob.IsMatch("[z-a]", "b"), Throws.TypeOf<FormatException>().With.Message.Contains("[z-a]"));
        Assert.That(Glob.TryValidate("[z-a]", out var problem), Is.False);
        Assert.That(problem, Does.Contain("reversed"));
    }

    [Test]
    public void An_empty_pattern_is_not_valid() => Assert.That(Glob.TryValidate("", out _), Is.False);

    [Test]
    public void A_list_compiles_to_one_matcher()
    {
        var any = Glob.CompileAny(["*.tmp", "build/", "docs/*.md"]);
        Assert.That(any.IsMatch("a/b.tmp"), Is.True);
        Assert.That(any.IsMatch("build/x"), Is.True);
        Assert.That(any.IsMatch("docs/a.md"), Is.True);
        Assert.That(any.IsMatch("docs/a.txt"), Is.False);
    }

    [Test]
    public void Many_stars_on_a_long_name_stay_fast()
    {
        var name = new string('a', 5000) + "c";
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Assert.That(Glob.IsMatch("*a*a*a*a*a*a*a*a*b", name), Is.False);
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
    }
}
