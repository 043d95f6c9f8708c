using System.Diagnostics;
using Onitu.Drivers.Ssh.Sftp;
using Onitu.Drivers.Toolkit;

namespace Onitu.Drivers.Ssh.Tests;

/// <summary>
/// A directory that stops being listable while the tree is polled, seen by the fixture's unprivileged login user:
/// skipped and named, its files never reported removed, and nothing reported once it opens again.
/// </summary>
[TestFixture]
[CancelAfter(60_000)]
public class RemoteFolderTreeSkipTests
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);

    private static async Task ChmodAsync(string mode, string path)
    {
        using var chmod = Process.Start("chmod", [mode, path]);
        await chmod.WaitForExitAsync();
        Assert.That(chmod.ExitCode, Is.Zero);
    }

    [Test]
    public async Task A_directory_closed_while_polled_is_skipped_and_its_files_are_not_removed(CancellationToken cancellationToken)
    {
        var sshd = SshdSetup.Sshd;
        var home = await sshd.UnprivilegedDirectoryAsync();
        File.WriteAllText(Path.Combine(home, "open.txt"), "open");
        await SshdFixture.GiveToUnprivilegedUserAsync(home);
        var shared = Directory.CreateDirectory(Path.Combine(home, "shared")).FullName; // root's, 0755 for now
        File.WriteAllText(Path.Combine(shared, "f.txt"), "kept");

        await using var client = await SftpClient.ConnectAsync(sshd.ConnectionOptions() with { User = SshdFixture.UnprivilegedUser }, cancellationToken);
        var tree = new RemoteFolderTree(home) { IsHidden = name => TempNames.IsTemporary(name) };
        var loaded = await tree.LoadAsync(client, cancellationToken);
        Assert.That(loaded!.Value.Files.Keys, Is.EquivalentTo(new[] { "open.txt", "shared/f.txt" }));

        var changed = new List<string>();
        var removed = new List<string>();
        var skipped = new List<string>();
        var receiver = new RemoteFolderTree.Receiver
        {
            Changed = (path, _) => { changed.Add(path); return ValueTask.FromResult(true); },
            Removed = path => { removed.Add(path); return ValueTask.CompletedTask; },
            Moved = (from, to, _) => { changed.Add($"{from}->{to}"); return ValueTask.CompletedTask; },
            Skipped = entry => { skipped.Add(entry.Path); return ValueTask.CompletedTask; },
        };

        await ChmodAsync("0700", shared);
        for (var i = 0; i < 3; i++) await tree.RefreshAsync(client, Poll, TimeSpan.Zero, receiver, cancellationToken);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(removed, Is.Empty, "a directory out of sight is not a directory emptied");
            Assert.That(changed, Is.Empty);
            Assert.That(skipped, Has.Count.EqualTo(3).And.All.EqualTo("shared"), "named at every refresh (the engine logs it once)");
        }

        await ChmodAsync("0755", shared);
        skipped.Clear();
        await tree.RefreshAsync(client, Poll, TimeSpan.Zero, receiver, cancellationToken);
        Assert.That(changed.Concat(removed).Concat(skipped), Is.Empty, "open again, unchanged: nothing to report");

        File.WriteAllText(Path.Combine(shared, "g.txt"), "new");
        await tree.RefreshAsync(client, Poll, TimeSpan.Zero, receiver, cancellationToken);
        Assert.That(changed, Is.EqualTo(new[] { "shared/g.txt" }), "listed again like any directory");
    }
}
