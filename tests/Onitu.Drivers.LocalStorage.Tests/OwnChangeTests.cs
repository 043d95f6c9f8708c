namespace Onitu.Drivers.LocalStorage.Tests;

/// <summary>The driver's own writes, moves and deletions must not come back as changes made on this service.</summary>
public class OwnChangeTests : DriverTestBase
{
    [Test]
    public async Task UploadFile_is_not_echoed_but_a_later_user_edit_is_reported()
    {
        var driver = await StartWatchingAsync();
        var mark = Plug.CallCount;

        await driver.UploadFileAsync(Meta("docs", "own/uploaded.txt"), new MemoryStream("from the engine"u8.ToArray()), Token);
        await driver.UploadFileAsync(Meta("docs", "top.txt"), new MemoryStream("top"u8.ToArray()), Token);

        await SettleAsync(DocsDir);
        Assert.That(Plug.Calls(mark).Where(c => !IsSettle(c)), Is.Empty);

        File.AppendAllText(Path.Combine(DocsDir, "own/uploaded.txt"), ", then edited by the user");
        await Plug.WaitForAsync(c => c.Kind == CallKind.Update && c.File.Path == "own/uploaded.txt", mark);
    }

    [Test]
    public async Task A_single_pass_records_its_own_changes_only_until_its_scan_is_done()
    {
        Plug.SinglePass = true;
        var driver = CreateDriver();
        Assert.That(driver.RecordsOwnChanges, Is.True, "before the scan, which may meet the driver's writes");

        await driver.ScanAsync(Token);

        // An initial sync of 100,000 files would otherwise hold an entry for each to the end of the pass.
        Assert.That(driver.RecordsOwnChanges, Is.False, "nothing looks at the disk again in a single pass");
        Plug.SinglePass = false;
        Assert.That(driver.RecordsOwnChanges, Is.True, "a run watches");
    }

    [Test]
    public async Task EndUpload_is_not_echoed()
    {
        var driver = await StartWatchingAsync();
        var mark = Plug.CallCount;
        var metadata = Meta("docs", "chunked/file.bin");

        await driver.StartUploadAsync(metadata, Token);
        await driver.UploadChunkAsync(metadata, 0, RandomBytes(100_000, 1), Token);
        await driver.UploadChunkAsync(metadata, 100_000, RandomBytes(50_001, 2), Token);
        await driver.EndUploadAsync(metadata, Token);

        await SettleAsync(DocsDir);
        Assert.That(Plug.Calls(mark).Where(c => !IsSettle(c)), Is.Empty);
    }

    [Test]
    public async Task MoveFile_within_and_across_folders_is_not_echoed()
    {
        Write(Path.Combine(DocsDir, "a/one.txt"), "one");
        Write(Path.Combine(DocsDir, "b/two.txt"), "two");
        var driver = await StartWatchingAsync();
        var mark = Plug.CallCount;

        await driver.MoveFileAsync(Plug.Known("docs", "a/one.txt"), Meta("docs", "renamed/one.txt"), Token);
        await driver.MoveFileAsync(Plug.Known("docs", "b/two.txt"), Meta("pics", "two.txt"), Token);

        await SettleAsync(DocsDir);
        await SettleAsync(PicsDir);
        Assert.That(Plug.Calls(mark).Where(c => !IsSettle(c)), Is.Empty);
    }

    [Test]
    public async Task DeleteFile_is_not_echoed()
    {
        Write(Path.Combine(DocsDir, "deep/dir/gone.txt"), "x");
        Write(Path.Combine(DocsDir, "flat.txt"), "y");
        var driver = await StartWatchingAsync();
        var mark = Plug.CallCount;

        await driver.DeleteFileAsync(Plug.Known("docs", "deep/dir/gone.txt"), Token);
        await driver.DeleteFileAsync(Plug.Known("docs", "flat.txt"), Token);

        await SettleAsync(DocsDir);
        Assert.That(Plug.Calls(mark).Where(c => !IsSettle(c)), Is.Empty);
    }

    [Test]
    public async Task A_file_the_user_recreates_after_the_driver_deleted_it_is_reported()
    {
        Write(Path.Combine(DocsDir, "phoenix.txt"), "x");
        var driver = await StartWatchingAsync();
        await driver.DeleteFileAsync(Plug.Known("docs", "phoenix.txt"), Token);
        await SettleAsync(DocsDir);
        var mark = Plug.CallCount;

        Write(Path.Combine(DocsDir, "phoenix.txt"), "reborn");

        await Plug.WaitForAsync(c => c.Kind == CallKind.Update && c.File.Path == "phoenix.txt", mark);
    }

    private static bool IsSettle(PlugCall call) => call.File.Path.StartsWith("zz-settle-", StringComparison.Ordinal);
}
