using Onitu.Transfers;

namespace Onitu.Core.Tests.Reconciliation;

/// <summary>The names of conflict copies: derived from the original, never nested.</summary>
public class ConflictNamingTests
{
    private static readonly DateTimeOffset Written = new(2026, 11, 27, 13, 9, 36, TimeSpan.Zero);

    [TestCase("x/y.txt", "x/y.conflict-B-20261127-130936.txt")]
    [TestCase("x/y.conflict-A-20261127-120000.txt", "x/y.conflict-B-20261127-130936.txt")]
    [TestCase("x/y.conflict-A-20261127-120000-2.txt", "x/y.conflict-B-20261127-130936.txt")]
    [TestCase("x", "x.conflict-B-20261127-130936")]
    [TestCase("x.conflict-C-20261127-120000", "x.conflict-B-20261127-130936")]
    [TestCase("x.conflict-C-20261127-120000-2", "x.conflict-B-20261127-130936")]
    [TestCase("d/archive.tar.conflict-A-20261127-120000.gz", "d/archive.tar.conflict-B-20261127-130936.gz")]
    [TestCase("d/archive.tar.gz", "d/archive.tar.conflict-B-20261127-130936.gz")]
    [TestCase(".profile", ".profile.conflict-B-20261127-130936")]
    public void A_conflict_copy_is_named_after_the_original_file(string path, string expected) =>
        Assert.That(ConflictNaming.Create(path, "B", Written), Is.EqualTo(expected));

    [Test]
    public void A_taken_name_gets_a_number() =>
        Assert.That(ConflictNaming.Create("x", "B", Written, p => p == "x.conflict-B-20261127-130936"),
            Is.EqualTo("x.conflict-B-20261127-130936-2"));

    [TestCase("x/y.conflict-B-20261127-130936.txt", "x/y.conflict-B-20261127-130936-2.txt")]
    [TestCase("x/y.conflict-B-20261127-130936-2.txt", "x/y.conflict-B-20261127-130936-3.txt")]
    [TestCase("x.conflict-B-20261127-130936", "x.conflict-B-20261127-130936-2")]
    [TestCase("x.conflict-B-20261127-130936-9", "x.conflict-B-20261127-130936-10")]
    [TestCase("d/archive.tar.conflict-my-laptop-20261127-130936.gz", "d/archive.tar.conflict-my-laptop-20261127-130936-2.gz")]
    [TestCase(".profile.conflict-B-20261127-130936", ".profile.conflict-B-20261127-130936-2")]
    public void A_planned_name_taken_since_is_followed_by_the_next_number(string planned, string expected) =>
        Assert.That(ConflictNaming.Next(planned, _ => false), Is.EqualTo(expected));

    [Test]
    public void The_next_name_skips_the_taken_ones() =>
        Assert.That(ConflictNaming.Next("y.conflict-B-20261127-130936.txt", p => p == "y.conflict-B-20261127-130936-2.txt"),
            Is.EqualTo("y.conflict-B-20261127-130936-3.txt"));
}
