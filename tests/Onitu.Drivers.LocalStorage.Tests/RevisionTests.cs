using System.Diagnostics;

namespace Onitu.Drivers.LocalStorage.Tests;

/// <summary>
/// Revisions that notice every edit a file system records: a file replaced by another of the same size and the same
/// modification time (to the nanosecond) is a new revision, since it is a new inode; and revisions written by an
/// earlier version (<c>{size}-{ticks}</c>) still match the unchanged file.
/// </summary>
public class RevisionTests : DriverTestBase
{
    /// <summary>Copies every timestamp of <paramref name="from"/> to <paramref name="to"/>, nanoseconds included.</summary>
    private static void TouchLike(string to, string from)
    {
        using var touch = Process.Start(new ProcessStartInfo("touch", ["-r", from, to]) { UseShellExecute = false })!;
        touch.WaitForExit();
        Assert.That(touch.ExitCode, Is.Zero, "touch -r");
    }

    private static string LegacyRevision(string fullPath)
    {
        var info = new FileInfo(fullPath);
        return $"{info.Length}-{info.LastWriteTimeUtc.Ticks}";
    }

    [Test]
    [Platform("Linux", Reason = "Inodes are read through statx on Linux only.")]
    public async Task A_file_replaced_by_another_of_the_same_size_and_time_is_reported_changed_by_a_scan()
    {
        var file = Write(Path.Combine(DocsDir, "report.txt"), "version 1");
        await using (var first = CreateDriver())
            await first.ScanAsync(Token);
        var before = Plug.KnownRevision("docs", "report.txt");
        Assert.That(before, Is.Not.Null);

        // Another file of the same size, given the very same timestamps, renamed over it (as `mv` or an editor's save).
        var replacement = Write(Path.Combine(Root, "replacement.txt"), "version 2");
        TouchLike(replacement, file);
        File.Move(replacement, file, overwrite: true);
        Assert.That(LegacyRevision(file), Is.EqualTo(before!.Split('-')[0] + "-" + before.Split('-')[1].Split('.')[0]),
            "size and time alone cannot tell the two versions apart");

        var mark = Plug.CallCount;
        await using var second = CreateDriver();
        await second.ScanAsync(Token);

        var updates = Plug.Calls(mark).Where(c => c.Kind == CallKind.Update && c.File.Path == "report.txt").ToList();
        Assert.That(updates, Has.Count.EqualTo(1), "the replaced file is a new revision");
        Assert.That(updates[0].File.Revision, Is.Not.EqualTo(before));
    }

    [Test]
    [Platform("Linux", Reason = "Inodes are read through statx on Linux only.")]
    public async Task A_write_refuses_to_overwrite_a_same_size_same_time_replacement_it_has_not_seen()
    {
        var file = Write(Path.Combine(DocsDir, "report.txt"), "version 1");
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);
        var known = Plug.Known("docs", "report.txt");
        var replacement = Write(Path.Combine(Root, "replacement.txt"), "version 2");
        TouchLike(replacement, file);
        File.Move(replacement, file, overwrite: true);

        Assert.ThrowsAsync<ContentChangedException>(async () =>
            await driver.UploadFileAsync(known, new MemoryStream("engine's!"u8.ToArray()), Token));

        Assert.That(File.ReadAllText(file), Is.EqualTo("version 2"), "the user's replacement is kept");
    }

    [Test]
    public async Task A_revision_of_the_previous_format_still_matches_the_unchanged_file()
    {
        // A state database written by the previous version holds "{size}-{ticks}".
        var file = Write(Path.Combine(DocsDir, "old.txt"), "unchanged since the upgrade");
        Plug.Remember(new Metadata("docs", "old.txt") { Revision = LegacyRevision(file) });
        var mark = Plug.CallCount;

        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);

        Assert.That(Plug.Calls(mark).Where(c => c.File.Path == "old.txt"), Is.Empty, "no re-upload of every file after an upgrade");
    }

    [Test]
    public async Task Compare_and_swap_accepts_a_revision_of_the_previous_format()
    {
        var written = Write(Path.Combine(DocsDir, "w.txt"), "old");
        var deleted = Write(Path.Combine(DocsDir, "d.txt"), "old");
        var moved = Write(Path.Combine(DocsDir, "m.txt"), "old");
        var overwritten = Write(Path.Combine(DocsDir, "o.txt"), "old");
        await using var driver = CreateDriver();

        await driver.UploadFileAsync(Meta("docs", "w.txt", LegacyRevision(written)), new MemoryStream("new"u8.ToArray()), Token);
        await driver.DeleteFileAsync(Meta("docs", "d.txt", LegacyRevision(deleted)), Token);
        await driver.MoveFileAsync(Meta("docs", "m.txt", LegacyRevision(moved)), Meta("docs", "o.txt", LegacyRevision(overwritten)), Token);

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllText(written), Is.EqualTo("new"));
            Assert.That(File.Exists(deleted), Is.False);
            Assert.That(File.Exists(moved), Is.False);
            Assert.That(File.ReadAllText(overwritten), Is.EqualTo("old"));
        });
    }

    [Test]
    public async Task A_revision_of_the_previous_format_for_another_size_or_time_does_not_match()
    {
        var file = Write(Path.Combine(DocsDir, "w.txt"), "old");
        var legacy = LegacyRevision(file);
        var size = long.Parse(legacy.Split('-')[0]);
        var ticks = long.Parse(legacy.Split('-')[1]);
        await using var driver = CreateDriver();

        Assert.ThrowsAsync<ContentChangedException>(async () =>
            await driver.UploadFileAsync(Meta("docs", "w.txt", $"{size + 1}-{ticks}"), new MemoryStream("new"u8.ToArray()), Token));
        Assert.ThrowsAsync<ContentChangedException>(async () =>
            await driver.UploadFileAsync(Meta("docs", "w.txt", $"{size}-{ticks - 1}"), new MemoryStream("new"u8.ToArray()), Token));
        Assert.That(File.ReadAllText(file), Is.EqualTo("old"));
    }

    [Test]
    [Platform("Linux", Reason = "Inodes are read through statx on Linux only.")]
    public async Task The_revision_carries_the_inode()
    {
        var file = Write(Path.Combine(DocsDir, "i.txt"), "x");
        using var stat = Process.Start(new ProcessStartInfo("stat", ["-c", "%i", file]) { UseShellExecute = false, RedirectStandardOutput = true })!;
        var inode = (await stat.StandardOutput.ReadToEndAsync(Token)).Trim();
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);

        Assert.That(Plug.KnownRevision("docs", "i.txt"), Does.EndWith("-" + inode));
    }
}
