using Onitu.Cli.Tests;

namespace Onitu.Drivers.Ssh.Tests;

/// <summary>
/// A local folder and a folder of the fixture's sshd kept in sync by the real <c>onitu</c> command, as a user runs it,
/// at the edges where a sync tool loses data: a symbolic link on the server leading out of the folder.
/// </summary>
[TestFixture]
[Platform(Exclude = "Win", Reason = "The server is this machine's sshd, and its links are POSIX symbolic links.")]
public class SshCliTests
{
    private string _dir = "";
    private string _outside = "";

    [SetUp]
    public void CreateDirectories()
    {
        _dir = Directory.CreateTempSubdirectory("onitu-ssh-cli-").FullName;
        _outside = Directory.CreateTempSubdirectory("onitu-ssh-outside-").FullName;
    }

    [TearDown]
    public void RemoveDirectories()
    {
        foreach (var directory in new[] { _dir, _outside })
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private string Local(string path) => Path.Combine(_dir, "L", "docs", path);

    private string Server(string path) => Path.Combine(_dir, "remote", "docs", path);

    private string WriteSetup()
    {
        var sshd = SshdSetup.Sshd;
        var setup = Path.Combine(_dir, "setup.yml");
        File.WriteAllText(setup, $"""
            name: local and ssh
            folders:
              docs: {"{}"}
            services:
              L:
                driver: local_storage
                options: {"{ root: L }"}
                folders: {"{ docs: docs }"}
              S:
                driver: ssh
                options:
                  host: 127.0.0.1
                  port: {sshd.Port}
                  user: "{sshd.User}"
                  root: "{Path.Combine(_dir, "remote")}"
                  identity-file: "{sshd.IdentityFile}"
                  known-hosts-file: "{sshd.KnownHostsFile}"
                  ssh-options: "{SshdFixture.IsolatedSshOptions}"
                folders: {"{ docs: docs }"}

            """);
        return setup;
    }

    private static void Write(string path, string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    /// <summary>
    /// Every entry under the outside directory, with each file's content and time: what a write, rename or deletion
    /// there would change.
    /// </summary>
    private List<string> Outside() =>
        [.. Directory.EnumerateFileSystemEntries(_outside, "*", SearchOption.AllDirectories)
            .Select(e => Path.GetRelativePath(_outside, e) + ": " + (File.Exists(e) ? File.ReadAllText(e) + " @ " + File.GetLastWriteTimeUtc(e).ToString("O") : "(directory)"))
            .Order(StringComparer.Ordinal)];

    [Test]
    [CancelAfter(300_000)]
    public async Task A_link_on_the_server_carries_no_write_rename_or_deletion_out_of_the_folder_and_the_local_files_stay(CancellationToken cancellationToken)
    {
        var setup = WriteSetup();
        Write(Local("plain.txt"), "plain");
        using (var first = await OnituProcess.RunAsync(_dir, "sync", setup, "--quiet"))
        {
            Assert.That(first.ExitCode, Is.Zero, first.Output);
            Assert.That(File.ReadAllText(Server("plain.txt")), Is.EqualTo("plain"), "the server folder is synced");
        }

        // The server's folder gets a link out of it, where a file of that name already lives; the local side has files
        // under the link's name.
        Write(Path.Combine(_outside, "f"), "the outsider's own f");
        File.SetLastWriteTimeUtc(Path.Combine(_outside, "f"), new DateTime(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc));
        Directory.CreateSymbolicLink(Server("escape"), _outside);
        Write(Local("escape/f"), "L's f");
        Write(Local("escape/g"), "L's g");
        var outsideBefore = Outside();

        using var second = await OnituProcess.RunAsync(_dir, "sync", setup, "--quiet");
        var outsideAfterSecond = Outside();
        var linkAfterSecond = new DirectoryInfo(Server("escape")).LinkTarget;
        var localAfterSecond = (File.Exists(Local("escape/f")), File.Exists(Local("escape/g")));
        // The next pass finds nothing of these files on the server (nothing was written there), and deletes nothing.
        using var third = await OnituProcess.RunAsync(_dir, "sync", setup, "--quiet");
        await TestContext.Out.WriteLineAsync($"second pass (exit {second.ExitCode}):\n{second.Output}\nthird pass (exit {third.ExitCode}):\n{third.Output}");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(outsideAfterSecond, Is.EqualTo(outsideBefore), "nothing created, renamed, changed or deleted under the link's target: " + second.Output);
            Assert.That(linkAfterSecond, Is.EqualTo(_outside), "the link stays");
            Assert.That(localAfterSecond, Is.EqualTo((true, true)), "the local files stay after the first pass");
            Assert.That(second.StandardError, Does.Contain("skipped: S docs:escape/f: ").And.Contain("symbolic link"), second.Output);
            Assert.That(second.StandardError, Does.Contain("skipped: S docs:escape/g: "), second.Output);
            Assert.That(second.StandardError, Does.Contain("skipped: S docs:escape: a symbolic link"), "the scan names the link it met: " + second.Output);
            Assert.That(second.StandardError, Does.Not.Contain("failing"), "the refusal is the paths', not the service's: " + second.Output);

            Assert.That(File.Exists(Local("escape/f")) ? File.ReadAllText(Local("escape/f")) : "(deleted)", Is.EqualTo("L's f"), "the local files stay after the second pass: " + third.Output);
            Assert.That(File.Exists(Local("escape/g")) ? File.ReadAllText(Local("escape/g")) : "(deleted)", Is.EqualTo("L's g"), third.Output);
            Assert.That(File.ReadAllText(Local("plain.txt")), Is.EqualTo("plain"), third.Output);
            Assert.That(Outside(), Is.EqualTo(outsideBefore), "still nothing changed outside: " + third.Output);
            Assert.That(new DirectoryInfo(Server("escape")).LinkTarget, Is.EqualTo(_outside), "the link stays");
            Assert.That(third.StandardError, Does.Contain("skipped: S docs:escape/f: ").And.Contain("symbolic link"), third.Output);
            Assert.That(third.StandardError, Does.Not.Contain("failing"), third.Output);
        }
    }
}
