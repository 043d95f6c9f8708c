namespace Onitu.Drivers.Ssh.Tests;

/// <summary>Which vanished and new paths of one poll are the same file renamed.</summary>
[TestFixture]
public class MoveMatcherTests
{
    private static List<(string From, string To)> Match((string, string)[] vanished, (string, string)[] appeared) =>
        MoveMatcher.Match(vanished, appeared);

    [Test]
    public void A_unique_file_of_the_same_size_and_time_is_a_rename_whatever_its_name() =>
        Assert.That(Match([("a.txt", "5-100")], [("b.txt", "5-100"), ("c.txt", "6-100")]), Is.EqualTo(new[] { ("a.txt", "b.txt") }));

    [Test]
    public void A_different_size_or_time_is_not_a_rename() =>
        Assert.That(Match([("a.txt", "5-100")], [("b.txt", "5-101"), ("c.txt", "6-100")]), Is.Empty);

    [Test]
    public void A_directory_rename_pairs_files_by_their_names_even_when_sizes_and_times_repeat()
    {
        var vanished = Enumerable.Range(0, 20).Select(i => ($"album/t{i}.txt", "7-100")).ToArray();
        var appeared = Enumerable.Range(0, 20).Reverse().Select(i => ($"record/t{i}.txt", "7-100")).ToArray();
        var pairs = Match(vanished, appeared);
        Assert.That(pairs, Has.Count.EqualTo(20));
        Assert.That(pairs, Has.All.Matches<(string From, string To)>(p => p.From.Replace("album/", "") == p.To.Replace("record/", "")));
    }

    [Test]
    public void The_longest_shared_tail_wins() =>
        Assert.That(Match([("x/a/f", "1-1")], [("y/b/f", "1-1"), ("y/a/f", "1-1")]), Is.EqualTo(new[] { ("x/a/f", "y/a/f") }));

    [Test]
    public void Ambiguous_candidates_stay_unpaired()
    {
        Assert.That(Match([("a.txt", "5-100")], [("b.txt", "5-100"), ("c.txt", "5-100")]), Is.Empty, "two other names: which one?");
        Assert.That(Match([("x/f", "5-100")], [("y/f", "5-100"), ("z/f", "5-100")]), Is.Empty, "the same tail twice");
    }

    [Test]
    public void Each_new_path_is_used_once() =>
        Assert.That(Match([("a/f", "1-1"), ("b/f", "1-1")], [("c/f", "1-1")]), Has.Count.EqualTo(1));
}
