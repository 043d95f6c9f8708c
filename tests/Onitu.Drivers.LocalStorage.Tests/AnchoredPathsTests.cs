namespace Onitu.Drivers.LocalStorage.Tests;

/// <summary>
/// Renames and deletions anchored in the parent directory opened without following links: a link that appears after
/// the driver looked at every parent (between its last look and the rename) still cannot carry the change out of the
/// folder. These call the primitive as the driver does once its look found nothing, with the link already there.
/// </summary>
[Platform(Include = "Linux", Reason = "Anchored renames use openat/renameat with O_NOFOLLOW, on Linux only.")]
public class AnchoredPathsTests
{
    private string _root = null!;
    private string _outside = null!;
    private StorageFolder _folder = null!;

    private string Docs => _folder.Directory;

    [SetUp]
    public void Create()
    {
        _root = Directory.CreateTempSubdirectory("onitu-anchored-").FullName;
        _outside = Directory.CreateDirectory(Path.Combine(_root, "outside")).FullName;
        _folder = new StorageFolder("docs", Directory.CreateDirectory(Path.Combine(_root, "docs")).FullName);
        Directory.CreateSymbolicLink(Path.Combine(Docs, "escape"), _outside);
        Assert.That(AnchoredPaths.IsAvailable, Is.True, "anchored renames are on for this architecture");
    }

    [TearDown]
    public void Remove() => Directory.Delete(_root, recursive: true);

    private string[] Outside() => [.. Directory.GetFileSystemEntries(_outside, "*", SearchOption.AllDirectories).Select(p => Path.GetRelativePath(_outside, p))];

    private string Temp(string content)
    {
        var temp = Path.Combine(Docs, ".onitu-staging", "upload.tmp");
        Directory.CreateDirectory(Path.GetDirectoryName(temp)!);
        File.WriteAllText(temp, content);
        return temp;
    }

    [Test]
    public void A_rename_into_a_directory_that_is_a_link_is_refused_and_creates_nothing_outside()
    {
        var temp = Temp("secret");

        var e = Assert.Throws<LinkOnPathException>(() => AnchoredPaths.Rename(_folder, temp, _folder, Path.Combine(Docs, "escape", "deeper", "f")));

        Assert.That(e!.Link, Is.EqualTo(Path.Combine(Docs, "escape")));
        Assert.That(Outside(), Is.Empty, "no file, and no directory either, outside the folder");
        Assert.That(File.ReadAllText(temp), Is.EqualTo("secret"), "the temporary file stays where it was");
        Assert.That(new DirectoryInfo(Path.Combine(Docs, "escape")).LinkTarget, Is.EqualTo(_outside), "the link is left as it is");
    }

    [Test]
    public void A_deletion_through_a_link_is_refused_and_the_file_outside_survives()
    {
        File.WriteAllText(Path.Combine(_outside, "f"), "not ours");

        Assert.Throws<LinkOnPathException>(() => AnchoredPaths.Delete(_folder, Path.Combine(Docs, "escape", "f")));

        Assert.That(File.ReadAllText(Path.Combine(_outside, "f")), Is.EqualTo("not ours"));
    }

    [Test]
    public void A_move_out_of_a_linked_directory_is_refused_and_the_file_outside_stays()
    {
        File.WriteAllText(Path.Combine(_outside, "f"), "not ours");

        Assert.Throws<LinkOnPathException>(() =>
            AnchoredPaths.Rename(_folder, Path.Combine(Docs, "escape", "f"), _folder, Path.Combine(Docs, "taken")));

        Assert.That(File.ReadAllText(Path.Combine(_outside, "f")), Is.EqualTo("not ours"));
        Assert.That(File.Exists(Path.Combine(Docs, "taken")), Is.False);
    }

    [Test]
    public void A_rename_creates_the_missing_directories_and_replaces_a_file_or_an_empty_directory()
    {
        var target = Path.Combine(Docs, "a", "b", "c", "f");
        AnchoredPaths.Rename(_folder, Temp("one"), _folder, target);
        Assert.That(File.ReadAllText(target), Is.EqualTo("one"));

        AnchoredPaths.Rename(_folder, Temp("two"), _folder, target);
        Assert.That(File.ReadAllText(target), Is.EqualTo("two"), "an existing file is replaced");

        var emptied = Directory.CreateDirectory(Path.Combine(Docs, "was-a-directory")).FullName;
        AnchoredPaths.Rename(_folder, Temp("three"), _folder, emptied);
        Assert.That(File.ReadAllText(emptied), Is.EqualTo("three"), "an empty directory gives way to the file");

        var full = Directory.CreateDirectory(Path.Combine(Docs, "full")).FullName;
        File.WriteAllText(Path.Combine(full, "inside"), "kept");
        var temp = Temp("four");
        Assert.Throws<IOException>(() => AnchoredPaths.Rename(_folder, temp, _folder, full));
        Assert.That(File.ReadAllText(Path.Combine(full, "inside")), Is.EqualTo("kept"), "a directory with entries stays");
    }

    [Test]
    public void Removing_empty_directories_never_reaches_through_a_link()
    {
        Directory.CreateDirectory(Path.Combine(_outside, "empty"));
        Assert.That(AnchoredPaths.TryRemoveEmptyDirectory(_folder, Path.Combine(Docs, "escape", "empty")), Is.False);
        Assert.That(Directory.Exists(Path.Combine(_outside, "empty")), Is.True, "the directory outside stays");
        Assert.That(AnchoredPaths.TryRemoveEmptyDirectory(_folder, Path.Combine(Docs, "escape")), Is.False);
        Assert.That(new DirectoryInfo(Path.Combine(Docs, "escape")).LinkTarget, Is.EqualTo(_outside), "the link stays");

        var mine = Directory.CreateDirectory(Path.Combine(Docs, "a", "b")).FullName;
        File.WriteAllText(Path.Combine(Docs, "a", "keep"), "x");
        Assert.That(AnchoredPaths.TryRemoveEmptyDirectory(_folder, mine), Is.True);
        Assert.That(AnchoredPaths.TryRemoveEmptyDirectory(_folder, Path.Combine(Docs, "a")), Is.False, "not empty");
        Assert.That(Directory.Exists(mine), Is.False);
    }

    [Test]
    public void A_deletion_of_a_missing_file_or_directory_is_not_an_error()
    {
        Assert.DoesNotThrow(() => AnchoredPaths.Delete(_folder, Path.Combine(Docs, "nothing")));
        Assert.DoesNotThrow(() => AnchoredPaths.Delete(_folder, Path.Combine(Docs, "no", "such", "file")));
        File.WriteAllText(Path.Combine(Docs, "here"), "x");
        AnchoredPaths.Delete(_folder, Path.Combine(Docs, "here"));
        Assert.That(File.Exists(Path.Combine(Docs, "here")), Is.False);
    }
}
