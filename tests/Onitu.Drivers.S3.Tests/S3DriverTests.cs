using System.Security.Cryptography;
using Amazon.S3;
using Amazon.S3.Model;
using Onitu.Drivers.S3.Tests.Conformance;
using Onitu.Testing;
using Onitu.Tests;

namespace Onitu.Drivers.S3.Tests;

/// <summary>The S3 driver's own behaviours on the real store: resumable multipart uploads, refusals, leftovers.</summary>
[TestFixture]
public class S3DriverTests
{
    private const int Part = 5 * 1024 * 1024;

    private string _prefix = "";
    private AmazonS3Client _client = null!;
    private readonly List<IAsyncDisposable> _drivers = [];

    private static RadosGateway Store => StoreSetup.Store;

    [SetUp]
    public void SetUp()
    {
        _prefix = "driver-" + Guid.NewGuid().ToString("N")[..12] + "/";
        _client = Store.CreateClient();
    }

    [TearDown]
    public async Task TearDownAsync()
    {
        foreach (var driver in _drivers) await driver.DisposeAsync();
        _drivers.Clear();
        await ObjectStoreView.DeletePrefixAsync(_client, Store.Bucket, _prefix, CancellationToken.None);
        _client.Dispose();
    }

    private S3Driver CreateDriver(IDriverStateStore? state = null, Action<Dictionary<string, object?>>? configure = null) =>
        CreateDriver(out _, state, configure);

    private S3Driver CreateDriver(out ConformancePlug plug, IDriverStateStore? state = null, Action<Dictionary<string, object?>>? configure = null)
    {
        plug = CreatePlug(state, configure);
        return CreateDriver(plug);
    }

    private ConformancePlug CreatePlug(IDriverStateStore? state = null, Action<Dictionary<string, object?>>? configure = null)
    {
        var options = Store.Options(_prefix);
        options["part-size"] = (long)Part;
        configure?.Invoke(options);
        return new ConformancePlug("subject", [new FolderMapping("docs", "docs")], new DriverOptions(options, new HashSet<string> { "access-key", "secret-key", "session-token" }),
            Path.GetTempPath(), state);
    }

    private S3Driver CreateDriver(IPlug plug)
    {
        var driver = (S3Driver)new S3DriverFactory().Create(plug);
        _drivers.Add(driver);
        return driver;
    }

    private async Task<byte[]?> ReadObjectAsync(string path)
    {
        try
        {
            using var response = await _client.GetObjectAsync(Store.Bucket, _prefix + "docs/" + path);
            using var memory = new MemoryStream();
            await response.ResponseStream.CopyToAsync(memory);
            return memory.ToArray();
        }
        catch (AmazonS3Exception e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    private async Task<List<MultipartUpload>> UploadsAsync() =>
        (await _client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = Store.Bucket, Prefix = _prefix })).MultipartUploads ?? [];

    private Task PutAsync(string path, string content) =>
        _client.PutObjectAsync(new PutObjectRequest { BucketName = Store.Bucket, Key = _prefix + "docs/" + path, ContentBody = content });

    [Test]
    public async Task A_scan_keeps_its_reports_in_flight_together_and_drains_them_before_moves_and_deletions()
    {
        // Each report may wait for a content check that reads the object (a first pairing): one at a time, a scan pays
        // the store's latency once an object, in sequence. Here no report completes before 8 are in flight (or a second
        // has passed), in a first scan and in one that also finds a move and a deletion.
        for (var i = 0; i < 12; i++) await PutAsync($"f{i}.txt", "content " + i);
        await PutAsync("moved.txt", "a file renamed on the store");
        await PutAsync("gone.txt", "a file deleted on the store");
        var first = new GatedPlug(CreatePlug(), wanted: 8);
        await CreateDriver(first).ScanAsync(CancellationToken.None);
        Assert.That(first.MostInFlight, Is.GreaterThanOrEqualTo(8), "new objects reported together");
        Assert.That(first.Inner.KnownFiles(), Has.Count.EqualTo(14));

        for (var i = 0; i < 12; i++) await PutAsync($"f{i}.txt", "changed " + i);
        await _client.CopyObjectAsync(new CopyObjectRequest
        {
            SourceBucket = Store.Bucket, SourceKey = _prefix + "docs/moved.txt", DestinationBucket = Store.Bucket, DestinationKey = _prefix + "docs/renamed.txt",
        });
        await _client.DeleteObjectAsync(Store.Bucket, _prefix + "docs/moved.txt");
        await _client.DeleteObjectAsync(Store.Bucket, _prefix + "docs/gone.txt");
        var second = new GatedPlug(first.Inner, wanted: 8);
        await CreateDriver(second).ScanAsync(CancellationToken.None);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(second.MostInFlight, Is.GreaterThanOrEqualTo(8), "changed objects reported together");
            Assert.That(second.Overtaken, Is.Zero, "no move or deletion reported while an update was in flight");
            Assert.That(second.Inner.Reports, Has.Some.StartsWith("move docs:moved.txt -> docs:renamed.txt"));
            Assert.That(second.Inner.Reports, Has.Some.StartsWith("delete docs:gone.txt"));
            Assert.That(second.Inner.KnownFiles().Select(m => m.Path), Is.EquivalentTo(Enumerable.Range(0, 12).Select(i => $"f{i}.txt").Append("renamed.txt")));
            foreach (var file in second.Inner.KnownFiles().Where(m => m.Path.StartsWith('f')))
                Assert.That(file.Size, Is.EqualTo($"changed {file.Path[1..^4]}".Length), $"{file.Path} reported with its new content");
        }
    }

    [Test]
    public async Task A_file_goes_up_and_comes_back_whole_and_by_ranges()
    {
        var driver = CreateDriver(out var plug);
        await driver.ScanAsync(CancellationToken.None);
        var content = RandomNumberGenerator.GetBytes(100_000);
        var metadata = new Metadata("docs", "a/b.bin");
        await driver.UploadFileAsync(metadata, new MemoryStream(content), CancellationToken.None);

        Assert.That(await ReadObjectAsync("a/b.bin"), Is.EqualTo(content), "the object holds the bytes, not the SDK's chunk framing");
        Assert.That(metadata.Revision, Does.StartWith(Convert.ToHexStringLower(MD5.HashData(content)) + ":"), "a single PUT's revision is its MD5 ETag and size");
        await using (var stream = await driver.OpenReadAsync(metadata, CancellationToken.None))
        using (var memory = new MemoryStream())
        {
            await stream.CopyToAsync(memory);
            Assert.That(memory.ToArray(), Is.EqualTo(content));
        }
        var buffer = new byte[1000];
        Assert.That(await driver.ReadChunkAsync(metadata, 99_500, buffer, CancellationToken.None), Is.EqualTo(500));
        Assert.That(buffer.AsSpan(0, 500).ToArray(), Is.EqualTo(content[99_500..]));
        Assert.That(await driver.ReadChunkAsync(metadata, 100_000, buffer, CancellationToken.None), Is.Zero);
    }

    [Test]
    public async Task A_crashed_multipart_upload_resumes_without_sending_the_stored_parts_again()
    {
        // Two parts a chunk: the second driver sends the second chunk and the short last one.
        const int chunk = 2 * Part;
        var content = RandomNumberGenerator.GetBytes(2 * chunk + 12_345);
        var state = new MemoryDriverStateStore();
        var metadata = new Metadata("docs", "big.bin");
        void TwoParts(Dictionary<string, object?> o) => o["concurrency"] = 2L;

        var first = CreateDriver(state, TwoParts);
        Assert.That(first.NegotiateChunkSize(4 * 1024 * 1024), Is.EqualTo(chunk), "a chunk is whole parts of at least S3's minimum, sent together");
        await first.StartUploadAsync(metadata, CancellationToken.None);
        await first.UploadChunkAsync(metadata, 0, content.AsMemory(0, chunk), CancellationToken.None);
        // The process dies: nothing is completed or aborted.
        await first.DisposeAsync();
        Assert.That(first.PartsSent, Is.EqualTo(2));
        Assert.That(await ReadObjectAsync("big.bin"), Is.Null, "nothing is visible before the upload completes");

        var second = CreateDriver(state, TwoParts);
        Assert.That(second.NegotiateChunkSize(4 * 1024 * 1024), Is.EqualTo(chunk));
        await second.RestartUploadAsync(new Metadata("docs", "big.bin"), chunk, CancellationToken.None);
        var resumed = new Metadata("docs", "big.bin");
        await second.UploadChunkAsync(resumed, chunk, content.AsMemory(chunk, chunk), CancellationToken.None);
        await second.UploadChunkAsync(resumed, 2L * chunk, content.AsMemory(2 * chunk), CancellationToken.None);
        await second.EndUploadAsync(resumed, CancellationToken.None);

        Assert.That(second.PartsSent, Is.EqualTo(3), "only the parts after the stored ones were sent");
        Assert.That(await ReadObjectAsync("big.bin"), Is.EqualTo(content));
        Assert.That(resumed.Size, Is.EqualTo(content.Length));
        Assert.That(resumed.Revision, Does.EndWith("-5:" + content.Length), "the revision is the multipart ETag (read back with HEAD where Complete gave none)");
        Assert.That(await UploadsAsync(), Is.Empty, "the multipart upload is completed, not left behind");
        Assert.That(await state.GetAsync("upload:" + _prefix + "docs/big.bin"), Is.Null, "the driver forgets a completed upload");
    }

    [Test]
    public async Task A_restart_past_what_is_stored_is_refused_and_an_abort_removes_the_upload()
    {
        var content = RandomNumberGenerator.GetBytes(2 * Part);
        var state = new MemoryDriverStateStore();
        var metadata = new Metadata("docs", "big.bin");
        var driver = CreateDriver(state, o => o["concurrency"] = 1L);
        await driver.StartUploadAsync(metadata, CancellationToken.None);
        await driver.UploadChunkAsync(metadata, 0, content.AsMemory(0, Part), CancellationToken.None);

        Assert.ThrowsAsync<UploadNotResumableException>(async () => await CreateDriver(state).RestartUploadAsync(metadata, 2L * Part, CancellationToken.None));
        Assert.That(await UploadsAsync(), Has.Count.EqualTo(1));

        await driver.AbortUploadAsync(metadata, CancellationToken.None);
        Assert.That(await UploadsAsync(), Is.Empty);
        Assert.ThrowsAsync<UploadNotResumableException>(async () => await CreateDriver(state).RestartUploadAsync(metadata, Part, CancellationToken.None));
    }

    [Test]
    public async Task On_radosgw_a_restart_that_leaves_stored_parts_unsent_starts_over()
    {
        if (!Store.IsLocal) Assert.Ignore("radosgw's behaviour: real S3 completes such an upload (the conformance suite checks it).");
        var content = RandomNumberGenerator.GetBytes(3 * Part);
        var state = new MemoryDriverStateStore();
        var metadata = new Metadata("docs", "shorter.bin");
        var driver = CreateDriver(state, o => o["concurrency"] = 1L);
        await driver.StartUploadAsync(metadata, CancellationToken.None);
        for (var i = 0; i < 3; i++)
            await driver.UploadChunkAsync(metadata, (long)i * Part, content.AsMemory(i * Part, Part), CancellationToken.None);

        // Resumed after one part, and the tail is shorter this time: the third part stored earlier is not sent again.
        var resumed = CreateDriver(state, o => o["concurrency"] = 1L);
        await resumed.RestartUploadAsync(metadata, Part, CancellationToken.None);
        await resumed.UploadChunkAsync(metadata, Part, content.AsMemory(Part, 100), CancellationToken.None);
        Assert.ThrowsAsync<UploadNotResumableException>(async () => await resumed.EndUploadAsync(metadata, CancellationToken.None));

        Assert.That(await ReadObjectAsync("shorter.bin"), Is.Null, "nothing half-made is visible");
        Assert.That(await UploadsAsync(), Is.Empty, "the upload that cannot complete is aborted");
        Assert.ThrowsAsync<UploadNotResumableException>(async () => await resumed.RestartUploadAsync(metadata, Part, CancellationToken.None),
            "the engine's next attempt starts over");
        await resumed.StartUploadAsync(metadata, CancellationToken.None);
        await resumed.UploadChunkAsync(metadata, 0, content.AsMemory(0, Part), CancellationToken.None);
        await resumed.UploadChunkAsync(metadata, Part, content.AsMemory(Part, 100), CancellationToken.None);
        await resumed.EndUploadAsync(metadata, CancellationToken.None);
        Assert.That(await ReadObjectAsync("shorter.bin"), Is.EqualTo(content[..(Part + 100)]));
    }

    [Test]
    public async Task The_startup_scan_aborts_abandoned_multipart_uploads_of_its_prefix_only()
    {
        var state = new MemoryDriverStateStore();
        var mine = new Metadata("docs", "kept.bin");
        var driver = CreateDriver(state);
        await driver.StartUploadAsync(mine, CancellationToken.None);
        var stray = await _client.InitiateMultipartUploadAsync(Store.Bucket, _prefix + "docs/stray.bin");
        var elsewhere = await _client.InitiateMultipartUploadAsync(Store.Bucket, _prefix + "other/elsewhere.bin");

        var scanner = new S3Driver(new ConformancePlug("subject", [new FolderMapping("docs", "docs")], new DriverOptions(Store.Options(_prefix)), Path.GetTempPath(), state))
        {
            AbandonedAfter = TimeSpan.Zero,
        };
        _drivers.Add(scanner);
        await scanner.ScanAsync(CancellationToken.None);

        var left = (await UploadsAsync()).Select(u => u.UploadId).ToList();
        Assert.That(left, Does.Not.Contain(stray.UploadId), "an upload no state refers to, under the folder, is aborted");
        Assert.That(left, Does.Contain(elsewhere.UploadId), "outside the service's folders: not its own");
        Assert.That(left, Has.Count.EqualTo(2), "the recorded upload stays, to resume");
    }

    [TestCase("check")]
    [TestCase("headers")]
    public async Task Writes_never_replace_a_version_the_engine_has_not_seen(string conditionalWrites)
    {
        var driver = CreateDriver(out var plug, configure: o => o["conditional-writes"] = conditionalWrites);
        await driver.ScanAsync(CancellationToken.None);
        var key = _prefix + "docs/shared.txt";
        await _client.PutObjectAsync(new PutObjectRequest { BucketName = Store.Bucket, Key = key, ContentBody = "theirs" });

        // The engine expects no file: the one another client made stays.
        Assert.ThrowsAsync<ContentChangedException>(async () =>
            await driver.UploadFileAsync(new Metadata("docs", "shared.txt"), new MemoryStream("mine"u8.ToArray()), CancellationToken.None));
        Assert.That(await ReadObjectAsync("shared.txt"), Is.EqualTo("theirs"u8.ToArray()));
        var reported = plug.Known("docs", "shared.txt");
        Assert.That(reported.Revision, Is.Not.Null, "the version found was reported");

        // The engine expects that version, and another client rewrites it meanwhile.
        await _client.PutObjectAsync(new PutObjectRequest { BucketName = Store.Bucket, Key = key, ContentBody = "theirs, again" });
        Assert.ThrowsAsync<ContentChangedException>(async () =>
            await driver.UploadFileAsync(new Metadata("docs", "shared.txt") { Revision = reported.Revision }, new MemoryStream("mine"u8.ToArray()), CancellationToken.None));
        Assert.That(await ReadObjectAsync("shared.txt"), Is.EqualTo("theirs, again"u8.ToArray()));

        // With the version the store holds, the write goes through.
        var current = new Metadata("docs", "shared.txt") { Revision = plug.Known("docs", "shared.txt").Revision };
        await driver.UploadFileAsync(current, new MemoryStream("mine"u8.ToArray()), CancellationToken.None);
        Assert.That(await ReadObjectAsync("shared.txt"), Is.EqualTo("mine"u8.ToArray()));
    }

    [Test]
    public async Task A_wrong_secret_is_refused_clearly_without_showing_the_secret()
    {
        const string wrong = "this-is-not-the-secret-0123456789abcdef";
        var driver = CreateDriver(configure: o => o["secret-key"] = wrong);
        var e = Assert.ThrowsAsync<DriverException>(async () => await driver.ScanAsync(CancellationToken.None));
        Assert.That(e!.Message, Does.Contain($"bucket '{Store.Bucket}'").And.Contain("refused the credentials").And.Contain("secret-key"));
        Assert.That(e.ToString(), Does.Not.Contain(wrong).And.Not.Contain(Store.SecretKey));
        Assert.That(e.Message, Does.Not.Contain(Store.AccessKey), "the access key is shown masked only");
    }

    [Test]
    public async Task A_missing_bucket_is_refused_clearly()
    {
        var driver = CreateDriver(configure: o => o["bucket"] = "onitu-no-such-bucket-" + Guid.NewGuid().ToString("N")[..8]);
        var e = Assert.ThrowsAsync<DriverException>(async () => await driver.ScanAsync(CancellationToken.None));
        Assert.That(e!.Message, Does.Contain("onitu-no-such-bucket-").And.Contain("does not exist"));
        await Task.CompletedTask;
    }

    [Test]
    public void Options_given_by_halves_or_an_archive_class_are_refused_before_anything_runs()
    {
        var factory = new S3DriverFactory();
        var problems = factory.ValidateOptions(new DriverOptions(new Dictionary<string, object?>
        {
            ["bucket"] = "b-1", ["access-key"] = "AKIAEXAMPLE", ["storage-class"] = "GLACIER",
        }), ".").Select(p => p.Option + ": " + p.Message).ToList();
        Assert.That(problems, Has.Some.StartsWith("secret-key: must be given together with 'access-key'"));
        Assert.That(problems, Has.Some.StartsWith("storage-class: is an archive class"));
        Assert.That(factory.Manifest.Options["secret-key"].IsSecret, Is.True);
        Assert.That(factory.Manifest.Options["access-key"].IsSecret, Is.True);
        Assert.That(factory.Manifest.Id, Is.EqualTo("s3"));
    }
}
