using NUnit.Framework;

namespace Onitu.Testing;

// The startup scan, deletions, and what a scan reports.
public abstract partial class DriverConformanceTests
{
    /// <summary>Files already on both sides before the engine ever ran are found by the startup scan and exchanged.</summary>
    [Test]
    public virtual async Task Startup_scan_finds_preexisting_files()
    {
        var onSubject = Enumerable.Range(0, 6).Select(i => ($"pre/subject-{i}.bin", Content(100 * i, 40 + i))).ToArray();
        var onReference = Enumerable.Range(0, 6).Select(i => ($"pre/reference-{i}.bin", Content(100 * i + 1, 50 + i))).ToArray();
        foreach (var (path, content) in onSubject)
            await PutOnSubjectAsync(path, content).ConfigureAwait(false);
        foreach (var (path, content) in onReference)
            WriteReference(path, content);

        await SyncAsync("over pre-existing files").ConfigureAwait(false);

        foreach (var (path, content) in onSubject)
            AssertOnReference(path, content);
        foreach (var (path, content) in onReference)
            await AssertOnSubjectAsync(path, content).ConfigureAwait(false);
    }

    /// <summary>
    /// Files changed, added and deleted on the driver under test while the engine was stopped are found by the next
    /// startup scan (the engine is disposed and recreated on the same database).
    /// </summary>
    [Test]
    public virtual async Task Startup_scan_finds_files_changed_and_deleted_while_stopped()
    {
        await CopyFromSubjectAsync(("keep.txt", Content(10, 60)), ("change.txt", Content(100, 61)), ("delete.txt", Content(50, 62))).ConfigureAwait(false);
        await StopEngineAsync().ConfigureAwait(false);

        var changed = Content(120, 63);
        var added = Content(70, 64);
        await PutOnSubjectAsync("change.txt", changed).ConfigureAwait(false);
        await PutOnSubjectAsync("added.txt", added).ConfigureAwait(false);
        await DeleteOnSubjectAsync("delete.txt").ConfigureAwait(false);

        await SyncAsync("after changes made while stopped").ConfigureAwait(false);

        AssertOnReference("keep.txt", Content(10, 60));
        AssertOnReference("change.txt", changed);
        AssertOnReference("added.txt", added);
        AssertAbsentOnReference("delete.txt");
    }

    /// <summary>
    /// The size a scan reports for each file is the number of bytes reading it returns (OpenRead, and ReadChunk when the
    /// driver has it): the logical size, even for a store that compresses or encrypts what it holds.
    /// </summary>
    [Test]
    public virtual async Task Scan_reports_each_file_with_its_size()
    {
        var files = new[]
        {
            ("sizes/empty", Array.Empty<byte>()), ("sizes/one", Content(1, 70)), ("sizes/odd", Content(4099, 71)),
            ("sizes/zeros", new byte[200_003]), // compresses well: a store that shrinks content must still report this size
        };
        foreach (var (path, content) in files)
            await PutOnSubjectAsync(path, content).ConfigureAwait(false);

        var plug = CreateSubjectPlug();
        var scanner = CreateSubjectDriver(plug);
        await scanner.ScanAsync(Cancellation).ConfigureAwait(false);

        foreach (var (path, content) in files)
        {
            var found = plug.KnownFiles().FirstOrDefault(m => m.Path == path);
            Assert.That(found, Is.Not.Null, $"The scan did not report '{path}'. Reports:\n  {string.Join("\n  ", plug.Reports)}");
            Assert.That(found!.Revision, Is.Not.Null.And.Not.Empty, $"The scan reported '{path}' without a revision");
            var read = await ReadFromSubjectAsync(path).ConfigureAwait(false);
            Assert.That(read, Is.Not.Null, $"The scan reported '{path}' but OpenReadAsync does not find it");
            Assert.That(found.Size, Is.EqualTo(read!.Length),
                $"The scan reported '{path}' with the wrong size: {found.Size} bytes, where reading it returns {read.Length} (Metadata.Size is the logical size, what a read returns)");
            Assert.That(found.Size, Is.EqualTo(content.Length), $"The scan reported '{path}' with the wrong size");
            if (scanner is IChunkedReader chunked)
            {
                var total = 0L;
                var buffer = new byte[65_536];
                for (int n; (n = await chunked.ReadChunkAsync(found, total, buffer, Cancellation).ConfigureAwait(false)) > 0;)
                    total += n;
                Assert.That(total, Is.EqualTo(found.Size), $"ReadChunkAsync returns {total} bytes of '{path}' in all, where the scan reported {found.Size}");
            }
        }
    }

    /// <summary>A file deleted on the reference is deleted on the driver under test.</summary>
    [Test]
    public virtual async Task Deletion_reaches_the_driver()
    {
        await CopyToSubjectAsync(("gone.txt", Content(10, 80)), ("dir/gone-too.txt", Content(10, 81))).ConfigureAwait(false);
        File.Delete(ReferencePath("gone.txt"));
        File.Delete(ReferencePath("dir/gone-too.txt"));
        await SyncAsync("after deletions on the reference").ConfigureAwait(false);
        await AssertAbsentOnSubjectAsync("gone.txt").ConfigureAwait(false);
        await AssertAbsentOnSubjectAsync("dir/gone-too.txt").ConfigureAwait(false);
    }

    /// <summary>A file deleted on the driver under test (while the engine is stopped) is deleted on the reference.</summary>
    [Test]
    public virtual async Task Deletion_on_the_driver_reaches_the_reference()
    {
        await CopyFromSubjectAsync(("gone.txt", Content(10, 82)), ("stays.txt", Content(10, 83))).ConfigureAwait(false);
        await StopEngineAsync().ConfigureAwait(false);
        await DeleteOnSubjectAsync("gone.txt").ConfigureAwait(false);
        await SyncAsync("after a deletion on the driver under test").ConfigureAwait(false);
        AssertAbsentOnReference("gone.txt");
        AssertOnReference("stays.txt", Content(10, 83));
    }

    /// <summary>Reading a missing file throws <see cref="RemoteFileNotFoundException"/>, as the contract says.</summary>
    [Test]
    public virtual async Task Reading_a_missing_file_throws_RemoteFileNotFoundException()
    {
        var e = Assert.CatchAsync(async () =>
        {
            var stream = await Probe.OpenReadAsync(new Metadata(FolderName, "never/was.txt"), Cancellation).ConfigureAwait(false);
            await stream.DisposeAsync().ConfigureAwait(false);
        });
        Assert.That(e, Is.InstanceOf<RemoteFileNotFoundException>(),
            $"OpenReadAsync of a missing file threw {e?.GetType().Name}: {e?.Message}");
        await Task.CompletedTask.ConfigureAwait(false);
    }
}
