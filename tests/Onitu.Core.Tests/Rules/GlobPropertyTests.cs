using System.Text;

namespace Onitu.Core.Tests.Rules;

using Onitu.Rules;

/// <summary>
/// The compiled glob matcher against the former regex translation (<see cref="RegexGlobOracle"/>) on many random
/// patterns and paths drawn from an alphabet rich in the syntax's corner cases (classes, ranges, escapes, '**', empty
/// components, surrogate pairs, decomposed letters). A failure names the seed, the pattern and the path.
/// </summary>
public class GlobPropertyTests
{
    private static readonly string[] PatternPieces =
        ["a", "b", "ab", ".", "*", "**", "?", "[", "]", "[!", "[^", "-", "\\", "/", "é", "e\u0301", "😀", "[a-c]", "[.-a]", "[]]", "x", "~"];

    private static readonly string[] PathPieces =
        ["a", "b", "ab", "abc", ".", "/", "/", "-", "[", "]", "!", "é", "e\u0301", "😀", "*", "?", "\\", "x", "~", "\n"];

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    [TestCase(4)]
    public void One_pattern_matches_as_the_regex_did(int seed)
    {
        var random = new Random(seed);
        var compared = 0;
        for (var p = 0; p < 2500; p++)
        {
            var pattern = Draw(random, PatternPieces, 1, 7);
            var valid = Glob.TryValidate(pattern, out _);
            System.Text.RegularExpressions.Regex? oracle = null;
            try
            {
                oracle = RegexGlobOracle.Compile(pattern);
            }
            catch (FormatException)
            {
            }
            var emptyPattern = pattern.All(c => c == '/');
            Assert.That(valid, Is.EqualTo(oracle is not null && !emptyPattern), $"seed {seed}: validity of '{Show(pattern)}'");
            if (oracle is null)
                continue;
            var compiled = GlobPattern.Parse(pattern);
            for (var q = 0; q < 40; q++)
            {
                var path = Glob.NormalizePath(Draw(random, PathPieces, 0, 8));
                var expected = oracle.IsMatch(path);
                Assert.That(compiled.IsMatch(path), Is.EqualTo(expected), $"seed {seed}: '{Show(pattern)}' on '{Show(path)}'");
                compared++;
            }
        }
        Assert.That(compared, Is.GreaterThan(50_000));
    }

    [TestCase(11)]
    [TestCase(12)]
    public void A_list_matches_as_the_regex_of_the_list_did(int seed)
    {
        var random = new Random(seed);
        for (var round = 0; round < 300; round++)
        {
            var patterns = new List<string>();
            while (patterns.Count < random.Next(1, 25))
            {
                var pattern = Draw(random, PatternPieces, 1, 6);
                if (Glob.TryValidate(pattern, out _))
                    patterns.Add(pattern);
            }
            var set = Glob.CompileAny(patterns);
            var oracle = RegexGlobOracle.CompileAny(patterns);
            for (var q = 0; q < 60; q++)
            {
                var path = Glob.NormalizePath(Draw(random, PathPieces, 0, 8));
                Assert.That(set.IsMatch(path), Is.EqualTo(oracle.IsMatch(path)),
                    $"seed {seed}: [{string.Join(", ", patterns.Select(Show))}] on '{Show(path)}'");
            }
        }
    }

    [Test]
    public void Realistic_lists_match_as_the_regex_did()
    {
        var random = new Random(7);
        string Name() => Draw(random, ["src", "build", "a", "b", "node_modules", "x.tmp", "y.log", "Temp", "temp", "c.o", ".git"], 1, 2);
        var patterns = new List<string>();
        for (var i = 0; i < 400; i++)
        {
            patterns.Add((i % 8) switch
            {
                0 => "*." + Name(),
                1 => Name(),
                2 => Name() + "/",
                3 => Name() + "/**/*.log",
                4 => "/" + Name(),
                5 => Name() + "/" + Name() + "/*.o",
                6 => "[Tt]" + Name() + "*",
                _ => "**/" + Name(),
            });
        }
        var set = Glob.CompileAny(patterns);
        // One regex per pattern: the released single regex of the list exceeds NonBacktracking's limit at this size.
        var oracle = patterns.Select(p => RegexGlobOracle.Compile(p)).ToList();
        for (var q = 0; q < 5000; q++)
        {
            var path = string.Join('/', Enumerable.Range(0, random.Next(1, 6)).Select(_ => Name()));
            Assert.That(set.IsMatch(path), Is.EqualTo(oracle.Any(r => r.IsMatch(path))), $"'{path}'");
        }
    }

    [Test]
    public void The_released_regex_differed_only_where_it_broke_the_documented_rules()
    {
        // A class never matches '/': the regex's range '[.-a]' contained it and crossed directories.
        Assert.That(RegexGlobOracle.Compile("x[.-a]y", asReleased: true).IsMatch("x/y"), Is.True);
        Assert.That(Glob.IsMatch("x[.-a]y", "x/y"), Is.False);
        Assert.That(Glob.IsMatch("x[.-a]y", "x.y"), Is.True);
        // The regex's '$' matched before a final newline: "a.tmp\n" is another name than "a.tmp".
        Assert.That(RegexGlobOracle.Compile("*.tmp", asReleased: true).IsMatch("a.tmp\n"), Is.True);
        Assert.That(Glob.IsMatch("*.tmp", "a.tmp\n"), Is.False);
        Assert.That(Glob.IsMatch("*.tmp\n", "a.tmp\n"), Is.True);
    }

    private static string Draw(Random random, string[] pieces, int min, int max)
    {
        var text = new StringBuilder();
        var count = random.Next(min, max + 1);
        for (var i = 0; i < count; i++)
            text.Append(pieces[random.Next(pieces.Length)]);
        return text.ToString();
    }

    private static string Show(string text) =>
        string.Concat(text.Select(c => c is < ' ' or > '~' ? $"\\u{(int)c:X4}" : c.ToString()));
}
