namespace Onitu.Cli.Tests;

/// <summary>Integrity at the edges of the local disk, as a user of <c>onitu sync</c> meets it (issue 11).</summary>
public class IntegrityTests : ScratchTest
{
    private string _outside = null!;

    [SetUp]
    public void CreateOutside()
    {
        _outside = Path.Combine(Path.GetTempPath(), "onitu-outside-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(_outside);
    }

    [TearDown]
    public void RemoveOutside()
    {
        try
        {
            Directory.Delete(_outside, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private const string TwoServices = """
        name: integrity
        folders:
          docs: {}
        services:
          A:
            driver: local_storage
            options: { root: A }
            folders: { docs: docs }
          B:
            driver: local_storage
            options: { root: B }
            folders: { docs: docs }
        """;

    private string Setup()
    {
        var path = Path.Combine(Dir, "setup.yml");
        File.WriteAllText(path, TwoServices);
        return path;
    }

    private string A(string path) => Path.Combine(Dir, "A/docs", path);
    private string B(string path) => Path.Combine(Dir, "B/docs", path);

    private static void Write(string path, string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    [Test]
    [Platform(Exclude = "Win", Reason = "Creating symbolic links needs a privilege on Windows.")]
    public async Task ADirectory_link_on_the_target_carries_no_write_or_rename_out_of_the_folder_and_the_path_is_named_skipped()
    {
        var setup = Setup();
        Write(A("plain.txt"), "plain");
        Write(Path.Combine(_outside, "kept.txt"), "the user's file outside");
        Directory.CreateDirectory(B(""));
        Directory.CreateSymbolicLink(B("escape"), _outside);
        Write(A("escape/f"), "must not leave the folder");
        // A file of the same name already outside: a conflict copy would rename it there.
        Write(A("escape/kept.txt"), "A's version");

        using var run = await OnituProcess.RunAsync(Dir, "sync", setup, "--quiet");

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllText(B("plain.txt")), Is.EqualTo("plain"), run.Output);
            Assert.That(Directory.GetFileSystemEntries(_outside).Select(Path.GetFileName), Is.EquivalentTo(new[] { "kept.txt" }), "nothing written or renamed outside");
            Assert.That(File.ReadAllText(Path.Combine(_outside, "kept.txt")), Is.EqualTo("the user's file outside"));
            Assert.That(new DirectoryInfo(B("escape")).LinkTarget, Is.EqualTo(_outside), "the link stays");
            Assert.That(run.StandardError, Does.Contain("skipped: B docs:escape/f").And.Contain("symbolic link"), run.Output);
            Assert.That(run.StandardOutput, Does.Contain("skipped"), run.Output);
        });
    }

    [Test]
    [Platform(Exclude = "Win", Reason = "Symbolic links need a privilege, and a backslash is a separator, on Windows.")]
    public async Task Sync_counts_and_names_every_path_it_skips_and_stages_nothing_a_user_could_collide_with()
    {
        var setup = Setup();
        Write(A("plain.txt"), "plain");
        Directory.CreateSymbolicLink(A("linked"), _outside);
        var lookAlike = $".onitu-{Guid.NewGuid():N}.part";
        Write(A(lookAlike), "a user's file with an unlucky name");
        Write(A("back\\slash.txt"), "a name Onitu cannot carry");

        using var run = await OnituProcess.RunAsync(Dir, "sync", setup, "--quiet");

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllText(B("plain.txt")), Is.EqualTo("plain"), run.Output);
            Assert.That(run.StandardOutput, Does.Contain("3 skipped"), run.Output);
            Assert.That(run.StandardError, Does.Contain("skipped: A docs:linked: a symbolic link"), run.Output);
            Assert.That(run.StandardError, Does.Contain($"skipped: A docs:{lookAlike}: named like a temporary file"), run.Output);
            Assert.That(run.StandardError, Does.Contain("skipped: A docs:back\\slash.txt"), run.Output);
            Assert.That(Directory.GetFiles(B(""), "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(B(""), f)),
                Is.EquivalentTo(new[] { "plain.txt", ".onitu-folder" }), "B holds the synced file and the folder marker; the staging directory is empty");
        });
    }
}
