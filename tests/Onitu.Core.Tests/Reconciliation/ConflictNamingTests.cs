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
}
