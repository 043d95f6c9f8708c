using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Amazon.S3;
using Amazon.S3.Model;
using Onitu.Drivers.S3.Tests.Conformance;

namespace Onitu.Drivers.S3.Tests;

/// <summary>A local folder and an S3 prefix kept in sync by the real <c>onitu</c> command, as a user runs it.</summary>
[TestFixture]
public class S3CliTests
{
    private string _dir = "";
    private string _prefix = "";
    private AmazonS3Client _client = null!;

    private static RadosGateway Store => StoreSetup.Store;

    [SetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("onitu-s3-cli-").FullName;
        _prefix = "cli-" + Guid.NewGuid().ToString("N")[..12] + "/";
        _client = Store.CreateClient();
    }

    [TearDown]
    public async Task TearDownAsync()
    {
        await ObjectStoreView.DeletePrefixAsync(_client, Store.Bucket, _prefix, CancellationToken.None);
        _client.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string WriteSetup()
    {
        var endpoint = Store.Endpoint is null ? "" : $"\n      endpoint: {Store.Endpoint}";
        var region = Store.Region is null ? "" : $"\n      region: {Store.Region}";
        var setup = Path.Combine(_dir, "setup.yml");
        File.WriteAllText(setup, $"""
            name: local and s3
            folders:
              docs: {"{}"}
            services:
              laptop:
                driver: local_storage
                options: {"{ root: local }"}
                folders: {"{ docs: docs }"}
              bucket:
                driver: s3
                options:
                  bucket: {Store.Bucket}
                  prefix: {_prefix}{endpoint}{region}
                  access-key: {Store.AccessKey}
                  secret-key: "{Store.SecretKey}"
                  part-size: 5242880
                  concurrency: 2
                folders: {"{ docs: backup }"}

            """);
        return setup;
    }

    private async Task<(int Code, string Output)> OnituAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = _dir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "onitu.dll"));
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"onitu {string.Join(' ', arguments)} did not finish within 3 minutes:\n{await output}{await error}");
        }
        return (process.ExitCode, await output + await error);
    }

    private async Task<byte[]?> ObjectAsync(string path)
    {
        try
        {
            using var response = await _client.GetObjectAsync(Store.Bucket, _prefix + "backup/" + path);
            using var memory = new MemoryStream();
            await response.ResponseStream.CopyToAsync(memory);
            return memory.ToArray();
        }
        catch (AmazonS3Exception e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    [Test]
    public async Task Onitu_sync_copies_a_local_folder_to_s3_and_brings_changes_back()
    {
        var local = Path.Combine(_dir, "local", "docs");
        Directory.CreateDirectory(Path.Combine(local, "notes"));
        File.WriteAllText(Path.Combine(local, "hello.txt"), "hello, bucket");
        File.WriteAllText(Path.Combine(local, "notes", "todo.md"), "- sync to s3");
        // Over two chunks (of two 5 MiB parts): the engine sends it chunk by chunk, as a resumable multipart upload.
        var big = RandomNumberGenerator.GetBytes(21 * 1024 * 1024 + 3);
        File.WriteAllBytes(Path.Combine(local, "big.bin"), big);
        var setup = WriteSetup();

        var (code, output) = await OnituAsync("sync", setup);
        Assert.That(code, Is.Zero, output);
        Assert.That(output, Does.Not.Contain(Store.SecretKey), "the secret never shows");
        Assert.That(await ObjectAsync("hello.txt"), Is.EqualTo(Encoding.UTF8.GetBytes("hello, bucket")));
        Assert.That(await ObjectAsync("notes/todo.md"), Is.EqualTo(Encoding.UTF8.GetBytes("- sync to s3")));
        Assert.That(await ObjectAsync("big.bin"), Is.EqualTo(big));

        // Another client changes the bucket: a new file, an edit, a deletion.
        await _client.PutObjectAsync(new PutObjectRequest { BucketName = Store.Bucket, Key = _prefix + "backup/from-s3.txt", ContentBody = "made in the bucket" });
        await _client.PutObjectAsync(new PutObjectRequest { BucketName = Store.Bucket, Key = _prefix + "backup/hello.txt", ContentBody = "hello, edited" });
        await _client.DeleteObjectAsync(Store.Bucket, _prefix + "backup/notes/todo.md");

        (code, output) = await OnituAsync("sync", setup);
        Assert.That(code, Is.Zero, output);
        Assert.That(File.ReadAllText(Path.Combine(local, "from-s3.txt")), Is.EqualTo("made in the bucket"));
        Assert.That(File.ReadAllText(Path.Combine(local, "hello.txt")), Is.EqualTo("hello, edited"));
        Assert.That(File.Exists(Path.Combine(local, "notes", "todo.md")), Is.False, "the deletion in the bucket reached the disk");
        Assert.That(File.ReadAllBytes(Path.Combine(local, "big.bin")), Is.EqualTo(big));

        // A third run has nothing to do.
        (code, output) = await OnituAsync("sync", setup);
        Assert.That(code, Is.Zero, output);
    }

    [Test]
    public async Task Onitu_sync_names_the_bucket_when_the_secret_is_wrong_and_never_shows_it()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "local", "docs"));
        File.WriteAllText(Path.Combine(_dir, "local", "docs", "a.txt"), "a");
        var setup = WriteSetup();
        File.WriteAllText(setup, File.ReadAllText(setup).Replace(Store.SecretKey, "wrong-secret-key-1234567890", StringComparison.Ordinal));

        var (code, output) = await OnituAsync("sync", setup);

        Assert.That(code, Is.Not.Zero, output);
        Assert.That(output, Does.Contain("bucket").And.Contain(Store.Bucket).And.Contain("refused the credentials"), output);
        Assert.That(output, Does.Not.Contain("wrong-secret-key-1234567890"));
        Assert.That(await ObjectAsync("a.txt"), Is.Null);
    }
}
