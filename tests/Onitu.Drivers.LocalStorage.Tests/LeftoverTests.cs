namespace Onitu.Drivers.LocalStorage.Tests;

/// <summary>
/// Partial files do not pile up: a start removes the temporary files that can no longer be of use, and a chunked
/// upload that filled the disk gives the space back.
/// </summary>
public class LeftoverTests : DriverTestBase
{
    private const string Ours = "0a1b2c3d";
    private const string Other = "99999999";

    private string Staged(string name, TimeSpan age)
    {
        var path = Write(Path.Combine(DocsDir, TempFiles.StagingDirectoryName, name), "partial");
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow - age);
        return path;
    }

    private string Beside(string relative, TimeSpan age)
    {
        var path = Write(Path.Combine(DocsDir, relative), "partial");
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow - age);
        return path;
    }

    private static string Fid() => Guid.NewGuid().ToString("N");

    [TestCase(false)]
    [TestCase(true)]
    public async Task A_start_removes_the_temporary_files_no_upload_can_use_any_more(bool dryRun)
    {
        await Plug.State.SetAsync("writer-id", Ours, Token);
        Plug.DryRun = dryRun;
        var fresh = TimeSpan.FromMinutes(1);
        var removed = new[]
        {
            Staged($"{Fid()}.{Ours}.77777777.whole.part", fresh), // this service's dead instance: never resumed
            Staged($"{Fid()}.{Ours}.part", TimeSpan.FromDays(8)), // a chunked upload abandoned for over a week
            Staged($"{Fid()}.{Other}.part", TimeSpan.FromDays(8)),
            Staged($"{Fid()}.{Other}.77777777.whole.part", TimeSpan.FromDays(2)),
            Beside($"sub/.onitu-{Fid()}.77777777.whole.part", TimeSpan.FromDays(2)), // an earlier version's naming
            Beside($"sub/.onitu-{Fid()}.part", TimeSpan.FromDays(8)),
        };
        var kept = new[]
        {
            Staged($"{Fid()}.{Ours}.part", fresh), // resumes at the next transfer of its file
            Staged($"{Fid()}.{Other}.part", fresh), // another engine's upload, perhaps in flight
            Staged($"{Fid()}.{Other}.77777777.whole.part", fresh),
            Staged("notes.txt", TimeSpan.FromDays(30)), // not a name of ours
            Beside($"sub/.onitu-{Fid()}.{Ours}.part", fresh),
        };

        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);

        Assert.Multiple(() =>
        {
            Assert.That(kept.Where(f => !File.Exists(f)), Is.Empty, "kept");
            Assert.That(removed.Where(File.Exists), dryRun ? Is.EquivalentTo(removed) : Is.Empty, dryRun ? "a dry run removes nothing" : "removed");
            Assert.That(Plug.Calls().Where(c => c.Kind == CallKind.Skip && c.File.Path.StartsWith("sub/", StringComparison.Ordinal)).Select(c => c.File.Path).ToList(),
                dryRun ? Has.Count.EqualTo(2) : Is.Empty, "a stale leftover is removed, not reported; this service's own partial is neither");
        });
    }

    [Test]
    [Platform("Linux", Reason = "Mounting a file system needs Linux and root.")]
    public async Task A_chunked_upload_that_fills_the_disk_removes_its_partial_file()
    {
        Directory.CreateDirectory(DocsDir);
        StagingTests.Mount(DocsDir, "2m");
        try
        {
            await using var driver = CreateDriver();
            await driver.ScanAsync(Token);
            var metadata = new Metadata("docs", "too-big.bin") { Size = 4 * 1024 * 1024 };
            await driver.StartUploadAsync(metadata, Token);

            var chunk = RandomBytes(256 * 1024, 5);
            ServiceException? failure = null;
            for (long offset = 0; offset < metadata.Size && failure is null; offset += chunk.Length)
            {
                try
                {
                    await driver.UploadChunkAsync(metadata, offset, chunk, Token);
                }
                catch (ServiceException e)
                {
                    failure = e;
                }
            }

            Assert.That(failure, Is.Not.Null, "a 2 MiB file system cannot hold 4 MiB");
            Assert.Multiple(() =>
            {
                Assert.That(failure!.Message, Does.Contain("No space left").And.Contain("too-big.bin"));
                Assert.That(failure.IsTransient, Is.True, "retried later, from the start");
                Assert.That(TempFilesIn(DocsDir), Is.Empty, "the partial file is removed, the space given back");
            });
            // The space is free again: another file fits.
            await driver.UploadFileAsync(Meta("docs", "small.bin"), new MemoryStream(RandomBytes(1024 * 1024, 6)), Token);
            Assert.ThrowsAsync<UploadNotResumableException>(async () => await driver.RestartUploadAsync(metadata, 256 * 1024, Token),
                "the engine starts the upload over");
        }
        finally
        {
            StagingTests.Unmount(DocsDir);
        }
    }
}
