using Onitu.Drivers.Ssh.Sftp;
using Onitu.Drivers.Toolkit;

namespace Onitu.Drivers.Ssh.Tests;

/// <summary>
/// Change detection by polling, against the real sshd: what a refresh lists, and that nothing is missed. The files
/// are changed directly on disk (the server runs on this machine), as another program on the server would.
/// </summary>
[TestFixture]
[CancelAfter(60_000)]
public class RemoteFolderTreeTests
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan NoRescan = TimeSpan.FromHours(24);

    private string _root = "";
    private SftpClient _client = null!;
    private RemoteFolderTree _tree = null!;
    private readonly List<string> _changed = [];
    private readonly List<string> _removed = [];

    [SetUp]
    public async Task StartAsync()
    {
        _root = Path.Combine(SshdSetup.Sshd.DataDirectory, "tree-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(_root);
        _client = await SftpClient.ConnectAsync(SshdSetup.Sshd.ConnectionOptions(), CancellationToken.None);
        _tree = new RemoteFolderTree(_root) { IsHidden = name => TempNames.IsTemporary(name) };
    }

    [TearDown]
    public async Task StopAsync() => await _client.DisposeAsync();

    private void Write(string path, string content)
    {
        var full = Path.Combine(_root, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
    }

    private async Task RefreshAsync(TimeSpan rescan, CancellationToken cancellationToken)
    {
        _changed.Clear();
        _removed.Clear();
        await _tree.RefreshAsync(_client, Poll, rescan,
            (path, _) => { _changed.Add(path); return ValueTask.CompletedTask; },
            path => { _removed.Add(path); return ValueTask.CompletedTask; },
            cancellationToken);
    }

    // A listing is trusted once taken more than a second after its directory's mtime was first seen (one-second
    // times): let that pass, then refresh once so that every listing is settled.
    private async Task SettleAsync(CancellationToken cancellationToken)
    {
        await Task.Delay(RemoteFolderTree.SettleTime + TimeSpan.FromMilliseconds(100), cancellationToken);
        await RefreshAsync(NoRescan, cancellationToken);
        Assert.That(_changed, Is.Empty, "settling found changes nobody made");
    }

    private void CreateTree()
    {
        for (var d = 0; d < 8; d++)
        {
            for (var f = 0; f < 3; f++) Write($"d{d}/f{f}.txt", $"{d}-{f}");
            Write($"d{d}/deep/er/leaf.txt", "leaf");
        }
        Write("top.txt", "top");
    }

    [Test]
    public async Task Loading_lists_every_file_and_skips_temporary_files(CancellationToken cancellationToken)
    {
        CreateTree();
        var temporary = $"{TempNames.Prefix}{Guid.NewGuid():N}.0a1b2c3d.part";
        Write($"d1/{temporary}", "partial");
        Write($"d1/{TempNames.Prefix}notes.txt", "a user's file, whatever its name");

        var loaded = await _tree.LoadAsync(_client, cancellationToken);

        Assert.That(loaded, Is.Not.Null);
        Assert.That(loaded!.Value.Files.Keys, Has.Count.EqualTo(8 * 4 + 2));
        Assert.That(loaded.Value.Files.Keys, Does.Contain($"d1/{TempNames.Prefix}notes.txt"));
        Assert.That(loaded.Value.Files.Keys, Does.Contain("d3/deep/er/leaf.txt"));
        Assert.That(loaded.Value.Hidden.Select(h => h.Path), Is.EqualTo(new[] { $"d1/{temporary}" }));
        Assert.That(_tree.DirectoryCount, Is.EqualTo(1 + 8 * 3));
    }

    [Test]
    public async Task A_settled_tree_is_polled_by_directory_stats_alone_and_only_a_changed_directory_is_listed(CancellationToken cancellationToken)
    {
        CreateTree();
        await _tree.LoadAsync(_client, cancellationToken);
        await SettleAsync(cancellationToken);

        await RefreshAsync(NoRescan, cancellationToken);
        Assert.That(_tree.LastListedCount, Is.Zero, "an unchanged tree was listed again");

        Write("d5/deep/new.txt", "new");
        await RefreshAsync(NoRescan, cancellationToken);

        Assert.That(_changed, Is.EqualTo(new[] { "d5/deep/new.txt" }));
        Assert.That(_tree.LastListedCount, Is.EqualTo(1), "only the directory whose mtime moved is listed");
    }

    [Test]
    public async Task Entries_added_within_the_second_of_a_listing_are_not_missed(CancellationToken cancellationToken)
    {
        Write("a/first.txt", "1");
        await _tree.LoadAsync(_client, cancellationToken);
        var expected = new List<string>();
        var seen = new List<string>();
        // Each file lands right after a listing, most likely within the same second: the directory's mtime (in
        // seconds) may not move, and the listing that follows must still find it.
        for (var i = 0; i < 6; i++)
        {
            Write($"a/n{i}.txt", "x");
            expected.Add($"a/n{i}.txt");
            await RefreshAsync(NoRescan, cancellationToken);
            seen.AddRange(_changed);
        }
        Assert.That(seen, Is.EquivalentTo(expected));
    }

    [Test]
    public async Task A_removed_directory_reports_its_files_and_a_renamed_one_is_removed_and_added(CancellationToken cancellationToken)
    {
        CreateTree();
        await _tree.LoadAsync(_client, cancellationToken);
        await SettleAsync(cancellationToken);

        Directory.Delete(Path.Combine(_root, "d2"), recursive: true);
        Directory.Move(Path.Combine(_root, "d3"), Path.Combine(_root, "moved"));
        await RefreshAsync(NoRescan, cancellationToken);

        Assert.That(_removed, Is.EquivalentTo(new[]
        {
            "d2/f0.txt", "d2/f1.txt", "d2/f2.txt", "d2/deep/er/leaf.txt",
            "d3/f0.txt", "d3/f1.txt", "d3/f2.txt", "d3/deep/er/leaf.txt",
        }));
        Assert.That(_changed, Is.EquivalentTo(new[] { "moved/f0.txt", "moved/f1.txt", "moved/f2.txt", "moved/deep/er/leaf.txt" }));

        // The tree follows: the moved directory's files are known, the removed ones are not reported again.
        await SettleAsync(cancellationToken);
        File.Delete(Path.Combine(_root, "moved", "deep", "er", "leaf.txt"));
        await RefreshAsync(NoRescan, cancellationToken);
        Assert.That(_removed, Is.EqualTo(new[] { "moved/deep/er/leaf.txt" }));
        Assert.That(_changed, Is.Empty);
    }

    [Test]
    public async Task A_file_rewritten_in_place_is_found_by_the_rescan_or_at_once_in_a_directory_with_recent_changes(CancellationToken cancellationToken)
    {
        CreateTree();
        await _tree.LoadAsync(_client, cancellationToken);
        await SettleAsync(cancellationToken);

        // Rewritten in place: no directory entry changes, so no directory mtime moves.
        File.WriteAllText(Path.Combine(_root, "d4", "f1.txt"), "rewritten, longer");
        await RefreshAsync(NoRescan, cancellationToken);
        Assert.That(_changed, Is.Empty, "without a rescan, an in-place rewrite waits (the price of not listing unchanged directories)");

        // A rescan interval as short as the poll lists every directory at every poll.
        await RefreshAsync(Poll, cancellationToken);
        Assert.That(_changed, Is.EqualTo(new[] { "d4/f1.txt" }));

        // A directory where a change was just seen stays under watch: the next in-place rewrite there is found at
        // once even with a long rescan interval.
        File.WriteAllText(Path.Combine(_root, "d4", "f2.txt"), "rewritten as well");
        await RefreshAsync(TimeSpan.FromMinutes(10), cancellationToken);
        Assert.That(_changed, Is.EqualTo(new[] { "d4/f2.txt" }));
    }

    [Test]
    public async Task The_rescan_spreads_over_the_polls_and_reaches_every_directory_within_its_interval(CancellationToken cancellationToken)
    {
        CreateTree();
        await _tree.LoadAsync(_client, cancellationToken);
        await SettleAsync(cancellationToken);

        // 25 directories, a rescan interval of 5 polls: 5 listings per poll.
        var listed = new List<int>();
        for (var i = 0; i < 5; i++)
        {
            await RefreshAsync(Poll * 5, cancellationToken);
            listed.Add(_tree.LastListedCount);
        }
        Assert.That(listed, Is.All.EqualTo(5));
    }

    [Test]
    public async Task A_missing_folder_directory_is_an_error_not_a_mass_deletion(CancellationToken cancellationToken)
    {
        CreateTree();
        await _tree.LoadAsync(_client, cancellationToken);
        Directory.Delete(_root, recursive: true);

        Assert.ThrowsAsync<RemoteFileNotFoundException>(async () => await RefreshAsync(NoRescan, cancellationToken));
        Assert.That(_removed, Is.Empty);
        Assert.That(await new RemoteFolderTree(_root) { IsHidden = name => TempNames.IsTemporary(name) }.LoadAsync(_client, cancellationToken), Is.Null);
    }
}
