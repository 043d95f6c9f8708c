using Amazon.S3;
using Amazon.S3.Model;
using Onitu.Testing;

namespace Onitu.Drivers.S3.Tests.Conformance;

/// <summary>The S3 driver against the store of <see cref="StoreSetup"/>, through the public conformance fixture.</summary>
[TestFixture]
public class S3ConformanceTests : DriverConformanceTests
{
    protected override IDriverFactory CreateFactory() => new S3DriverFactory();

    protected override ValueTask<DriverTestArea> CreateAreaAsync(string scratchDirectory, CancellationToken cancellationToken)
    {
        var store = StoreSetup.Store;
        var prefix = "conformance-" + Guid.NewGuid().ToString("N")[..12] + "/";
        var options = store.Options(prefix);
        options["poll-interval-ms"] = 100L;
        // Small parts, so that the kit's 10 MiB file goes up in several.
        options["part-size"] = 5L * 1024 * 1024;
        var client = store.CreateClient();
        return ValueTask.FromResult(new DriverTestArea(options, "docs", async () =>
        {
            await ObjectStoreView.DeletePrefixAsync(client, store.Bucket, prefix, CancellationToken.None);
            client.Dispose();
        })
        {
            // The bucket through an SDK client of its own, as another program would see it.
            View = new ObjectStoreView(client, store.Bucket, prefix + "docs/"),
        });
    }

    /// <summary>
    /// radosgw (Ceph 16) refuses to complete a multipart upload that holds a part the completion does not list, so a
    /// restart whose tail comes out shorter than what was stored before it cannot finish there; the driver then starts
    /// over (S3DriverTests.On_radosgw_a_restart_that_leaves_stored_parts_unsent_starts_over). The engine never meets it:
    /// it resumes only the same source revision, which sends every stored part again. Real S3 runs the test.
    /// </summary>
    public override Task A_restarted_upload_discards_bytes_past_its_offset()
    {
        if (StoreSetup.Store.IsLocal)
            Assert.Ignore("radosgw refuses to complete a multipart upload holding parts it does not list (InvalidPart): a restart whose tail is shorter than what was stored starts over instead; see S3DriverTests.On_radosgw_a_restart_that_leaves_stored_parts_unsent_starts_over.");
        return base.A_restarted_upload_discards_bytes_past_its_offset();
    }
}

/// <summary>An <see cref="IStoreView"/> on a key prefix of a bucket, through the SDK.</summary>
public sealed class ObjectStoreView(AmazonS3Client client, string bucket, string prefix) : IStoreView
{
    public async ValueTask<byte[]?> ReadAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await client.GetObjectAsync(bucket, prefix + FilePath.Normalize(path), cancellationToken);
            using var memory = new MemoryStream();
            await response.ResponseStream.CopyToAsync(memory, cancellationToken);
            return memory.ToArray();
        }
        catch (AmazonS3Exception e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async ValueTask WriteAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken) =>
        await client.PutObjectAsync(new PutObjectRequest
        {
            BucketName = bucket,
            Key = prefix + FilePath.Normalize(path),
            InputStream = new MemoryStream(content.ToArray()),
        }, cancellationToken);

    /// <summary>Deletes every object and multipart upload under a prefix.</summary>
    public static async Task DeletePrefixAsync(AmazonS3Client client, string bucket, string prefix, CancellationToken cancellationToken)
    {
        string? continuation = null;
        do
        {
            var page = await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = prefix, ContinuationToken = continuation }, cancellationToken);
            foreach (var item in page.S3Objects ?? [])
                await client.DeleteObjectAsync(bucket, item.Key, cancellationToken);
            continuation = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (continuation is not null);
        var uploads = await client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = bucket, Prefix = prefix }, cancellationToken);
        foreach (var upload in uploads.MultipartUploads ?? [])
            await client.AbortMultipartUploadAsync(bucket, upload.Key, upload.UploadId, cancellationToken);
    }
}
