namespace Onitu.Core.Tests.Engine;

/// <summary>An upload that is no longer wanted leaves no partial file behind.</summary>
public class PartialUploadTests
{
    [Test]
    public async Task A_file_deleted_while_its_chunked_upload_runs_leaves_no_partial_file_on_the_target()
    {
        await using var h = new SyncHarness(SyncHarness.TwoLocalServices(), o => o.BandwidthLimit = 1024 * 1024);
        await h.Engine.StartAsync();
        h.Write("A", "docs/big.bin", SyncHarness.RandomBytes(6 * 1024 * 1024));

        await SyncHarness.EventuallyAsync(() => Partials(h).Any(p => new FileInfo(p).Length > 0), "the chunked upload to be under way");
        File.Delete(h.PathOf("A", "docs/big.bin"));

        await SyncHarness.EventuallyAsync(() => Partials(h).Length == 0, "the partial file removed from B");
        await h.Engine.WaitUntilIdleAsync();
        Assert.That(h.Exists("B", "docs/big.bin"), Is.False);
        Assert.That(Partials(h), Is.Empty);
    }

    /// <summary>The local driver's partial files: in its staging directory at the folder's root.</summary>
    private static string[] Partials(SyncHarness h) => Directory.Exists(h.PathOf("B", "docs/.onitu-staging"))
        ? Directory.GetFiles(h.PathOf("B", "docs/.onitu-staging"), "*.part")
        : [];
}
