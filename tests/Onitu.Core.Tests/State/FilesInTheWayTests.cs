using Onitu.State;

namespace Onitu.Core.Tests.State;

/// <summary>
/// <see cref="StoreTransaction.FindLiveFilesInTheWay"/>: the one question a first sighting asks of the state about a
/// file and a directory sharing a path, answered in one statement up to four parents and path by path beyond.
/// </summary>
public class FilesInTheWayTests : StateDatabaseTest
{
    private async Task<(bool Under, List<string> Parents)> AskAsync(string path, params (string Path, bool Deleted)[] files)
    {
        await using var store = OpenStore();
        return await store.WriteAsync(tx =>
        {
            foreach (var (filePath, deleted) in files)
            {
                tx.UpsertFile(new FileRecord(FileId.Compute("docs", filePath), "docs", filePath, 1, "text/plain", 1, "A", null, deleted));
                tx.UpsertFile(new FileRecord(FileId.Compute("other", filePath), "other", filePath, 1, "text/plain", 1, "A", null, Deleted: false));
            }
            return tx.FindLiveFilesInTheWay("docs", path);
        });
    }

    [TestCase("a/b.txt")]
    [TestCase("a/b/c/d/e/f/g.txt")]
    public async Task Nothing_is_in_the_way_of_a_path_alone_in_its_folder(string path)
    {
        var (under, parents) = await AskAsync(path, ("ab", false), ("a.txt", false), ("a0", false));

        Assert.Multiple(() =>
        {
            Assert.That(under, Is.False);
            Assert.That(parents, Is.Empty);
        });
    }

    [TestCase("a/b.txt", new[] { "a" })]
    [TestCase("a/b/c/d.txt", new[] { "a/b/c", "a" })]
    [TestCase("a/b/c/d/e/f/g.txt", new[] { "a/b/c/d/e/f", "a" })]
    public async Task Live_files_at_parent_directories_are_named_nearest_first(string path, string[] expected)
    {
        (string, bool)[] files = [.. expected.Select(p => (p, false)), ("a/b", true)];

        var (under, parents) = await AskAsync(path, files);

        Assert.Multiple(() =>
        {
            Assert.That(under, Is.False);
            Assert.That(parents, Is.EqualTo(expected), "deleted parents and other folders' files are not in the way");
        });
    }

    [TestCase("x")]
    [TestCase("a/b/c/d/e/x")]
    public async Task A_live_file_under_the_path_is_in_the_way(string path)
    {
        var (under, _) = await AskAsync(path, (path + "/deep/er.txt", false), (path + "/gone.txt", true));

        Assert.That(under, Is.True);
    }

    [Test]
    public async Task Only_deleted_files_under_the_path_are_not_in_the_way()
    {
        var (under, _) = await AskAsync("x", ("x/gone.txt", true), ("x.txt", false), ("x0/y", false));

        Assert.That(under, Is.False);
    }
}
