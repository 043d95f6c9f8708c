namespace Onitu.Drivers.LocalStorage.Tests;

public class ChunkedUploadTests : DriverTestBase
{
    private const int TenMiB = 10 * 1024 * 1024;

    [TestCase(false)]
    [TestCase(true)]
    public async Task Ten_MiB_in_odd_sized_chunks_give_identical_bytes(bool fsync)
    {
        Plug = CreatePlug(new Dictionary<string, object?> { ["fsync"] = fsync });
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);
        var content = RandomBytes(TenMiB, seed: 10);
        var metadata = Meta("docs", "videos/clip.mkv");
        Assert.That(driver.NegotiateChunkSize(1_000_003), Is.EqualTo(1_000_003));

        await driver.StartUploadAsync(metadata, Token);
        await WriteChunksAsync(driver, metadata, content, from: 0, seed: 1);
        Assert.That(File.Exists(Path.Combine(DocsDir, "videos/clip.mkv")), Is.False, "invisible until the end");
        await driver.EndUploadAsync(metadata, Token);

        var full = Path.Combine(DocsDir, "videos/clip.mkv");
        Assert.Multiple(() =>
        {
            Assert.That(Hash(File.ReadAllBytes(full)), Is.EqualTo(Hash(content)));
            Assert.That(metadata.Revision, Is.EqualTo(DiskRevision(full)));
            Assert.That(metadata.Size, Is.EqualTo(TenMiB));
            Assert.That(TempFilesIn(DocsDir), Is.Empty);
        });
    }

    [Test]
    public async Task RestartUpload_after_the_driver_is_recreated_resumes_and_gives_identical_bytes()
    {
        var content = RandomBytes(3 * 1024 * 1024 + 17, seed: 11);
        var metadata = Meta("docs", "resumed.bin");
        var first = CreateDriver();
        await first.ScanAsync(Token);
        await first.StartUploadAsync(metadata, Token);
        // The engine saved offset 1_500_000 after its last acknowledged chunk; a few more bytes made it to disk
        // before the crash and must be discarded.
        await first.UploadChunkAsync(metadata, 0, content.AsMemory(0, 1_000_000), Token);
        await first.UploadChunkAsync(metadata, 1_000_000, content.AsMemory(1_000_000, 500_000), Token);
        await first.UploadChunkAsync(metadata, 1_500_000, new byte[123_456], Token);
        await first.DisposeAsync();
        Assert.That(TempFilesIn(DocsDir), Has.Length.EqualTo(1), "a disposed driver leaves the partial upload");

        var second = CreateDriver();
        var resumed = Meta("docs", "resumed.bin");
        await second.RestartUploadAsync(resumed, 1_500_000, Token);
        await WriteChunksAsync(second, resumed, content, from: 1_500_000, seed: 2);
        await second.EndUploadAsync(resumed, Token);

        Assert.Multiple(() =>
        {
            Assert.That(Hash(File.ReadAllBytes(Path.Combine(DocsDir, "resumed.bin"))), Is.EqualTo(Hash(content)));
            Assert.That(TempFilesIn(DocsDir), Is.Empty);
        });
    }

    [Test]
    public async Task Chunks_after_a_restart_of_the_process_without_RestartUpload_reopen_the_partial_file()
    {
        var content = RandomBytes(200_000, seed: 12);
        var metadata = Meta("docs", "reopened.bin");
        var first = CreateDriver();
        await first.StartUploadAsync(metadata, Token);
        await first.UploadChunkAsync(metadata, 0, content.AsMemory(0, 100_000), Token);
        await first.DisposeAsync();

        var second = CreateDriver();
        await second.UploadChunkAsync(metadata, 100_000, content.AsMemory(100_000), Token);
        await second.EndUploadAsync(metadata, Token);

        Assert.That(File.ReadAllBytes(Path.Combine(DocsDir, "reopened.bin")), Is.EqualTo(content));
    }

    [Test]
    public async Task RestartUpload_without_a_partial_file_is_not_resumable()
    {
        await using var driver = CreateDriver();

        Assert.ThrowsAsync<UploadNotResumableException>(async () => await driver.RestartUploadAsync(Meta("docs", "never started.bin"), 100, Token));
        Assert.ThrowsAsync<UploadNotResumableException>(async () => await driver.UploadChunkAsync(Meta("docs", "never started.bin"), 0, new byte[1], Token));
        Assert.ThrowsAsync<UploadNotResumableException>(async () => await driver.EndUploadAsync(Meta("docs", "never started.bin"), Token));
    }

    [Test]
    public async Task RestartUpload_past_the_end_of_the_partial_file_is_not_resumable()
    {
        await using var driver = CreateDriver();
        var metadata = Meta("docs", "short.bin");
        await driver.StartUploadAsync(metadata, Token);
        await driver.UploadChunkAsync(metadata, 0, new byte[1000], Token);

        Assert.ThrowsAsync<UploadNotResumableException>(async () => await driver.RestartUploadAsync(metadata, 1001, Token));
        Assert.That(async () => await driver.RestartUploadAsync(metadata, 1000, Token), Throws.Nothing);
    }

    [Test]
    public async Task AbortUpload_keeps_the_previous_content_and_leaves_no_partial_file()
    {
        var full = Write(Path.Combine(DocsDir, "keep.txt"), "previous content");
        await using var driver = CreateDriver();
        var metadata = Meta("docs", "keep.txt", DiskRevision(full));
        await driver.StartUploadAsync(metadata, Token);
        await driver.UploadChunkAsync(metadata, 0, RandomBytes(50_000, 13), Token);

        await driver.AbortUploadAsync(metadata, Token);

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllText(full), Is.EqualTo("previous content"));
            Assert.That(TempFilesIn(DocsDir), Is.Empty);
        });
    }

    [Test]
    public async Task EndUpload_refuses_when_the_target_changed_during_the_upload()
    {
        var full = Write(Path.Combine(DocsDir, "busy.txt"), "v1");
        await using var driver = CreateDriver();
        var metadata = Meta("docs", "busy.txt", DiskRevision(full));
        await driver.StartUploadAsync(metadata, Token);
        await driver.UploadChunkAsync(metadata, 0, RandomBytes(10_000, 14), Token);

        File.WriteAllText(full, "v2 written by the user meanwhile");
        Assert.ThrowsAsync<ContentChangedException>(async () => await driver.EndUploadAsync(metadata, Token));

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllText(full), Is.EqualTo("v2 written by the user meanwhile"));
            Assert.That(Plug.Calls().Single().File.Revision, Is.EqualTo(DiskRevision(full)));
            Assert.That(TempFilesIn(DocsDir), Is.Empty);
        });
    }

    [Test]
    public async Task A_whole_file_upload_does_not_disturb_a_pending_chunked_upload_of_the_same_file()
    {
        await using var driver = CreateDriver();
        var metadata = Meta("docs", "both.bin");
        var chunked = RandomBytes(100_000, 15);
        await driver.StartUploadAsync(metadata, Token);
        await driver.UploadChunkAsync(metadata, 0, chunked.AsMemory(0, 60_000), Token);

        var whole = Meta("docs", "both.bin");
        await driver.UploadFileAsync(whole, new MemoryStream(RandomBytes(70_000, 16)), Token);

        var resumed = Meta("docs", "both.bin", whole.Revision);
        await driver.RestartUploadAsync(resumed, 60_000, Token);
        await driver.UploadChunkAsync(resumed, 60_000, chunked.AsMemory(60_000), Token);
        await driver.EndUploadAsync(resumed, Token);
        Assert.That(File.ReadAllBytes(Path.Combine(DocsDir, "both.bin")), Is.EqualTo(chunked));
    }

    /// <summary>Writes content[from..] in chunks of pseudo-random odd sizes, in order.</summary>
    private static async Task WriteChunksAsync(IChunkedWriter driver, Metadata metadata, byte[] content, int from, int seed)
    {
        var random = new Random(seed);
        var offset = from;
        while (offset < content.Length)
        {
            var size = Math.Min(content.Length - offset, random.Next(1, 700_000) | 1);
            await driver.UploadChunkAsync(metadata, offset, content.AsMemory(offset, size), Token);
            offset += size;
        }
    }
}
