using NUnit.Framework;
using Onitu.Options;

namespace Onitu.Testing;

public abstract partial class DriverConformanceTests
{
    // ---- Copies through the engine, both ways ----

    private async Task CopyToSubjectAsync(params (string Path, byte[] Content)[] files)
    {
        foreach (var (path, content) in files)
            WriteReference(path, content);
        await SyncAsync("copying to the driver under test").ConfigureAwait(false);
        foreach (var (path, content) in files)
            await AssertOnSubjectAsync(path, content).ConfigureAwait(false);
    }

    private async Task CopyFromSubjectAsync(params (string Path, byte[] Content)[] files)
    {
        foreach (var (path, content) in files)
            await PutOnSubjectAsync(path, content).ConfigureAwait(false);
        await SyncAsync("copying from the driver under test").ConfigureAwait(false);
        foreach (var (path, content) in files)
            AssertOnReference(path, content);
    }

    /// <summary>An empty file written on the reference reaches the driver under test.</summary>
    [Test]
    public virtual Task Copies_an_empty_file_to_the_driver() => CopyToSubjectAsync(("empty.txt", []));

    /// <summary>An empty file on the driver under test reaches the reference.</summary>
    [Test]
    public virtual Task Copies_an_empty_file_from_the_driver() => CopyFromSubjectAsync(("empty.txt", []));

    /// <summary>A 10 B file reaches the driver under test.</summary>
    [Test]
    public virtual Task Copies_a_10_B_file_to_the_driver() => CopyToSubjectAsync(("ten.bin", Content(10, 10)));

    /// <summary>A 10 B file on the driver under test reaches the reference.</summary>
    [Test]
    public virtual Task Copies_a_10_B_file_from_the_driver() => CopyFromSubjectAsync(("ten.bin", Content(10, 11)));

    /// <summary>A 1 KiB file reaches the driver under test.</summary>
    [Test]
    public virtual Task Copies_a_1_KiB_file_to_the_driver() => CopyToSubjectAsync(("kilo.bin", Content(1024, 12)));

    /// <summary>A 1 KiB file on the driver under test reaches the reference.</summary>
    [Test]
    public virtual Task Copies_a_1_KiB_file_from_the_driver() => CopyFromSubjectAsync(("kilo.bin", Content(1024, 13)));

    /// <summary>A 10 MiB file reaches the driver under test in odd-sized chunks (UploadChunk at odd offsets when the driver is an <see cref="IChunkedWriter"/>).</summary>
    [Test]
    public virtual Task Copies_a_10_MiB_file_in_odd_chunks_to_the_driver() => CopyToSubjectAsync(("large.bin", Content(Capabilities.LargeFileSize, 14)));

    /// <summary>A 10 MiB file on the driver under test reaches the reference in odd-sized chunks (ReadChunk at odd offsets when the driver is an <see cref="IChunkedReader"/>).</summary>
    [Test]
    public virtual Task Copies_a_10_MiB_file_in_odd_chunks_from_the_driver() => CopyFromSubjectAsync(("large.bin", Content(Capabilities.LargeFileSize, 15)));

    /// <summary>A file rewritten smaller, then bigger, on the reference ends with each content on the driver under test (no stale tail).</summary>
    [Test]
    public virtual async Task Rewrites_smaller_and_bigger_to_the_driver()
    {
        await CopyToSubjectAsync(("rewrite.bin", Content(5000, 20))).ConfigureAwait(false);
        await CopyToSubjectAsync(("rewrite.bin", Content(300, 21))).ConfigureAwait(false);
        await CopyToSubjectAsync(("rewrite.bin", Content(3 * OddChunkSize + 17, 22))).ConfigureAwait(false);
    }

    /// <summary>A file rewritten smaller, then bigger, on the driver under test ends with each content on the reference.</summary>
    [Test]
    public virtual async Task Rewrites_smaller_and_bigger_from_the_driver()
    {
        await CopyFromSubjectAsync(("rewrite.bin", Content(5000, 23))).ConfigureAwait(false);
        await StopEngineAsync().ConfigureAwait(false);
        await CopyFromSubjectAsync(("rewrite.bin", Content(300, 24))).ConfigureAwait(false);
        await StopEngineAsync().ConfigureAwait(false);
        await CopyFromSubjectAsync(("rewrite.bin", Content(3 * OddChunkSize + 17, 25))).ConfigureAwait(false);
    }

    /// <summary>Files eight directories deep travel both ways.</summary>
    [Test]
    public virtual async Task Deep_subdirectories_both_ways()
    {
        await CopyToSubjectAsync(("a/b/c/d/e/f/g/h/down.txt", Content(100, 30)), ("a/b/other.txt", Content(7, 31))).ConfigureAwait(false);
        await StopEngineAsync().ConfigureAwait(false);
        await CopyFromSubjectAsync(("z/y/x/w/v/u/t/s/up.txt", Content(100, 32)), ("a/b/c/d/e/f/g/sibling.txt", Content(9, 33))).ConfigureAwait(false);
    }

    // ---- Startup scan ----

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

    /// <summary>The sizes a scan reports are the files' sizes (called directly: ScanAsync with a recording plug).</summary>
    [Test]
    public virtual async Task Scan_reports_each_file_with_its_size()
    {
        var files = new[] { ("sizes/empty", Array.Empty<byte>()), ("sizes/one", Content(1, 70)), ("sizes/odd", Content(4099, 71)) };
        foreach (var (path, content) in files)
            await PutOnSubjectAsync(path, content).ConfigureAwait(false);

        var plug = CreateSubjectPlug();
        var scanner = CreateSubjectDriver(plug);
        await scanner.ScanAsync(Cancellation).ConfigureAwait(false);

        foreach (var (path, content) in files)
        {
            var found = plug.KnownFiles().FirstOrDefault(m => m.Path == path);
            Assert.That(found, Is.Not.Null, $"The scan did not report '{path}'. Reports:\n  {string.Join("\n  ", plug.Reports)}");
            Assert.That(found!.Size, Is.EqualTo(content.Length), $"The scan reported '{path}' with the wrong size");
            Assert.That(found.Revision, Is.Not.Null.And.Not.Empty, $"The scan reported '{path}' without a revision");
        }
    }

    // ---- Deletion ----

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
            await using var stream = await Probe.OpenReadAsync(new Metadata(FolderName, "never/was.txt"), Cancellation).ConfigureAwait(false);
        });
        Assert.That(e, Is.InstanceOf<RemoteFileNotFoundException>(),
            $"OpenReadAsync of a missing file threw {e?.GetType().Name}: {e?.Message}");
        await Task.CompletedTask.ConfigureAwait(false);
    }

    // ---- Live: moves and changes while running ----

    /// <summary>While the engine runs, a file renamed on the reference is renamed on the driver under test.</summary>
    [Test]
    public virtual async Task Move_reaches_the_driver()
    {
        RequireChangeNotifications();
        await StartLiveAsync().ConfigureAwait(false);
        var content = Content(2000, 90);
        WriteReference("old-name.txt", content);
        await EventuallyAsync(async () => await ReadFromSubjectAsync("old-name.txt").ConfigureAwait(false) is { } c && c.AsSpan().SequenceEqual(content),
            "old-name.txt on the driver under test").ConfigureAwait(false);

        File.Move(ReferencePath("old-name.txt"), ReferencePath("new-name.txt"));
        await EventuallyAsync(async () => await ReadFromSubjectAsync("old-name.txt").ConfigureAwait(false) is null
                                          && await ReadFromSubjectAsync("new-name.txt").ConfigureAwait(false) is not null,
            "the rename replayed on the driver under test (new-name.txt there, old-name.txt gone)").ConfigureAwait(false);
        await AssertOnSubjectAsync("new-name.txt", content).ConfigureAwait(false);
    }

    /// <summary>While the engine runs, a directory renamed on the reference is renamed on the driver under test.</summary>
    [Test]
    public virtual async Task Directory_move_reaches_the_driver()
    {
        RequireChangeNotifications();
        await StartLiveAsync().ConfigureAwait(false);
        var files = Enumerable.Range(0, 4).Select(i => ($"album/2024/p{i}.jpg", Content(300 + i, 100 + i))).ToArray();
        foreach (var (path, content) in files)
            WriteReference(path, content);
        await EventuallyAsync(async () =>
        {
            foreach (var (path, _) in files)
            {
                if (await ReadFromSubjectAsync(path).ConfigureAwait(false) is null)
                    return false;
            }
            return true;
        }, "the album on the driver under test").ConfigureAwait(false);

        Directory.Move(ReferencePath("album"), ReferencePath("pictures"));
        await EventuallyAsync(async () =>
        {
            foreach (var (path, _) in files)
            {
                if (await ReadFromSubjectAsync(path).ConfigureAwait(false) is not null
                    || await ReadFromSubjectAsync("pictures" + path["album".Length..]).ConfigureAwait(false) is null)
                    return false;
            }
            return true;
        }, "album/ renamed to pictures/ on the driver under test").ConfigureAwait(false);
        foreach (var (path, content) in files)
            await AssertOnSubjectAsync("pictures" + path["album".Length..], content).ConfigureAwait(false);
    }

    /// <summary>While the engine runs, a file written on the driver under test by another client reaches the reference (WatchAsync).</summary>
    [Test]
    public virtual async Task A_change_on_the_driver_is_seen_while_running()
    {
        RequireChangeNotifications();
        await StartLiveAsync().ConfigureAwait(false);
        var content = Content(777, 110);
        await PutOnSubjectAsync("live/written.txt", content).ConfigureAwait(false);
        await EventuallyAsync(() => Task.FromResult(ReadReference("live/written.txt") is { } c && c.AsSpan().SequenceEqual(content)),
            "live/written.txt on the reference", state: () => Task.FromResult(Describe(content, ReadReference("live/written.txt")) ?? "")).ConfigureAwait(false);

        await DeleteOnSubjectAsync("live/written.txt").ConfigureAwait(false);
        await EventuallyAsync(() => Task.FromResult(ReadReference("live/written.txt") is null),
            "live/written.txt deleted on the reference after its deletion on the driver under test").ConfigureAwait(false);
    }

    /// <summary>While the engine runs, a file moved on the driver under test (its own <see cref="INativeMove"/>) is moved on the reference.</summary>
    [Test]
    public virtual async Task Move_on_the_driver_reaches_the_reference()
    {
        RequireChangeNotifications();
        var mover = Require<INativeMove>(Probe);
        var content = Content(1500, 120);
        await PutOnSubjectAsync("before.txt", content).ConfigureAwait(false);
        await StartLiveAsync().ConfigureAwait(false);
        AssertOnReference("before.txt", content);

        var source = ProbePlug.Known(FolderName, "before.txt");
        var destination = new Metadata(FolderName, "moved/after.txt");
        await mover.MoveFileAsync(source, destination, Cancellation).ConfigureAwait(false);
        await EventuallyAsync(() => Task.FromResult(ReadReference("before.txt") is null && ReadReference("moved/after.txt") is not null),
            "the move replayed on the reference (moved/after.txt there, before.txt gone)").ConfigureAwait(false);
        AssertOnReference("moved/after.txt", content);
    }

    // ---- Names ----

    /// <summary>The names a driver most often mangles: spaces, #, %, quotes, non-Latin scripts, long names; both ways.</summary>
    [Test]
    public virtual async Task Unicode_and_awkward_names_both_ways()
    {
        var names = new List<string>
        {
            "with space.txt", " leading and trailing .txt", "hash#tag.txt", "percent%20encoded%.txt", "quote's \"double\".txt",
            "semi;colon,comma=equals+plus&amp@at!bang(paren)[bracket]{brace}~tilde$dollar.txt", "dir with space/inner file.txt",
            new string('l', Capabilities.MaxFileNameLength - 4) + ".txt",
        };
        if (Capabilities.UnicodeNames)
            names.AddRange(["naïve café/résumé.txt", "Ελληνικά.txt", "Русский текст.txt", "日本語のファイル.txt", "中文/文件.txt", "emoji 😀🎉.txt", "עברית.txt"]);

        var toSubject = names.Select((n, i) => ($"to/{n}", Content(20 + i, 200 + i))).ToArray();
        var fromSubject = names.Select((n, i) => ($"from/{n}", Content(20 + i, 300 + i))).ToArray();
        await CopyToSubjectAsync(toSubject).ConfigureAwait(false);
        await StopEngineAsync().ConfigureAwait(false);
        await CopyFromSubjectAsync(fromSubject).ConfigureAwait(false);
    }

    // ---- Direct handler calls: chunks, interruptions, concurrency ----

    /// <summary>
    /// An upload interrupted mid-transfer resumes at its offset on a new driver instance (StartUpload, chunks, a new
    /// instance, RestartUpload at the offset, the remaining chunks, EndUpload) and ends with exactly the bytes sent.
    /// </summary>
    [Test]
    public virtual async Task Interrupted_upload_restarts_at_its_offset()
    {
        var writer = Require<IChunkedWriter>(Probe);
        var chunk = writer.NegotiateChunkSize(65_537);
        Assert.That(chunk, Is.Positive, "NegotiateChunkSize must return a positive size");
        var content = Content(chunk * 5 + 1234, 400);
        var metadata = new Metadata(FolderName, "resumed/file.bin") { Size = content.Length, ModifiedAt = DateTimeOffset.UtcNow };

        await writer.StartUploadAsync(metadata, Cancellation).ConfigureAwait(false);
        long offset = 0;
        for (var i = 0; i < 2; i++, offset += chunk)
            await writer.UploadChunkAsync(metadata, offset, content.AsMemory((int)offset, chunk), Cancellation).ConfigureAwait(false);
        await Probe.DisposeAsync().ConfigureAwait(false);

        // A new process: a new instance, the same state store, the same storage.
        var resumedMetadata = new Metadata(FolderName, "resumed/file.bin") { Size = content.Length, ModifiedAt = metadata.ModifiedAt };
        var resumed = (IChunkedWriter)CreateSubjectDriver(CreateSubjectPlug());
        await resumed.RestartUploadAsync(resumedMetadata, offset, Cancellation).ConfigureAwait(false);
        for (; offset < content.Length; offset += chunk)
        {
            var length = (int)Math.Min(chunk, content.Length - offset);
            await resumed.UploadChunkAsync(resumedMetadata, offset, content.AsMemory((int)offset, length), Cancellation).ConfigureAwait(false);
        }
        await resumed.EndUploadAsync(resumedMetadata, Cancellation).ConfigureAwait(false);

        var reader = CreateSubjectDriver(CreateSubjectPlug());
        await using var stream = await reader.OpenReadAsync(new Metadata(FolderName, "resumed/file.bin"), Cancellation).ConfigureAwait(false);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, Cancellation).ConfigureAwait(false);
        AssertSameContent(content, copy.ToArray(), "resumed/file.bin", "the driver under test after a resumed upload");
    }

    /// <summary>ReadChunk at odd offsets and lengths returns exactly those bytes, and 0 past the end.</summary>
    [Test]
    public virtual async Task Reads_chunks_at_odd_offsets()
    {
        var reader = Require<IChunkedReader>(Probe);
        var content = Content(100_003, 410);
        await PutOnSubjectAsync("chunks.bin", content).ConfigureAwait(false);
        var metadata = ProbePlug.Known(FolderName, "chunks.bin");
        foreach (var (offset, length) in new[] { (0, 4099), (1, 1), (4099, 33_333), (65_537, 34_466), (99_999, 4), (100_000, 3) })
        {
            var buffer = new byte[length];
            var read = 0;
            while (read < length)
            {
                var n = await reader.ReadChunkAsync(metadata, offset + read, buffer.AsMemory(read), Cancellation).ConfigureAwait(false);
                if (n == 0)
                    break;
                read += n;
            }
            AssertSameContent(content.AsSpan(offset, length).ToArray(), buffer[..read], $"chunks.bin [{offset}, {offset + length})",
                "the driver under test (ReadChunk)");
        }
        var past = await reader.ReadChunkAsync(metadata, content.Length, new byte[10], Cancellation).ConfigureAwait(false);
        Assert.That(past, Is.Zero, "ReadChunk at the end of the file must return 0");
    }

    /// <summary>
    /// A newer version written on the reference while its previous version is being transferred (slowed by a
    /// bandwidth limit) ends on the driver under test, never the older one or a mix.
    /// </summary>
    [Test]
    public virtual async Task A_newer_version_during_a_transfer_wins()
    {
        CreateEngine(o =>
        {
            o.ChunkSize = 65_537;
            o.BandwidthLimit = 2 * 1024 * 1024;
        });
        await StartLiveAsync().ConfigureAwait(false);
        WriteReference("busy.bin", Content(1024 * 1024, 500));
        await EventuallyAsync(() => Task.FromResult(Engine.GetProgress().ActiveTransfers > 0 || Events.OfType<FileSynced>().Any()),
            "the first version's transfer to start").ConfigureAwait(false);
        var last = Content(700 * 1024 + 3, 501);
        WriteReference("busy.bin", last);
        await EventuallyAsync(async () => await ReadFromSubjectAsync("busy.bin").ConfigureAwait(false) is { } c && c.AsSpan().SequenceEqual(last),
            "the newest version of busy.bin on the driver under test",
            state: async () => "found: " + (Describe(last, await ReadFromSubjectAsync("busy.bin").ConfigureAwait(false)) ?? "equal")).ConfigureAwait(false);
    }

    /// <summary>Many concurrent UploadFile calls on different files, then many concurrent OpenRead/ReadChunk calls (handlers must be thread-safe).</summary>
    [Test]
    public virtual async Task Concurrent_handler_calls_on_different_files()
    {
        var n = Capabilities.Concurrency;
        var files = Enumerable.Range(0, n).Select(i => ($"concurrent/file-{i:D2}.bin", Content(10_000 + i * 517, 600 + i))).ToArray();
        var driver = Probe;
        var uploads = await Task.WhenAll(files.Select(f => Task.Run(async () =>
        {
            var metadata = new Metadata(FolderName, f.Item1) { Size = f.Item2.Length, ModifiedAt = DateTimeOffset.UtcNow };
            using var stream = new MemoryStream(f.Item2, writable: false);
            try
            {
                await driver.UploadFileAsync(metadata, stream, Cancellation).ConfigureAwait(false);
                return null;
            }
            catch (Exception e) when (e is not OperationCanceledException || !Cancellation.IsCancellationRequested)
            {
                return $"'{f.Item1}': UploadFile threw {e.GetType().Name}: {e.Message}";
            }
        }, Cancellation))).ConfigureAwait(false);

        var reads = await Task.WhenAll(files.Select((f, i) => Task.Run(async () =>
        {
            try
            {
                return Describe(f.Item2, await ReadConcurrentlyAsync(driver, f.Item1, f.Item2.Length, chunked: i % 2 == 1).ConfigureAwait(false)) is { } d
                    ? $"'{f.Item1}': {d}"
                    : null;
            }
            catch (Exception e) when (e is not OperationCanceledException || !Cancellation.IsCancellationRequested)
            {
                return $"'{f.Item1}': {(i % 2 == 1 ? "ReadChunk" : "OpenRead")} threw {e.GetType().Name}: {e.Message}";
            }
        }, Cancellation))).ConfigureAwait(false);
        var failures = uploads.Concat(reads).OfType<string>().ToList();
        Assert.That(failures, Is.Empty,
            $"After {n} concurrent uploads and reads of different files, {failures.Count} call(s) failed or file(s) differ on the driver under test (handlers must be thread-safe)");
    }

    /// <summary>Many concurrent reads of one file all return it; concurrent uploads of one file leave exactly one of the versions sent.</summary>
    [Test]
    public virtual async Task Concurrent_handler_calls_on_the_same_file()
    {
        var n = Capabilities.Concurrency;
        var content = Content(50_000, 700);
        await PutOnSubjectAsync("same.bin", content).ConfigureAwait(false);
        var driver = Probe;
        var reads = await Task.WhenAll(Enumerable.Range(0, n).Select(i => Task.Run(() => ReadConcurrentlyAsync(driver, "same.bin", content.Length, i % 2 == 1), Cancellation)))
            .ConfigureAwait(false);
        for (var i = 0; i < n; i++)
            AssertSameContent(content, reads[i], "same.bin", $"the driver under test (concurrent read #{i})");

        var versions = Enumerable.Range(0, n).Select(i => Content(20_000 + i * 101, 800 + i)).ToArray();
        var plugs = Enumerable.Range(0, n).Select(_ => ProbePlug.Known(FolderName, "same.bin")).ToArray();
        await Task.WhenAll(versions.Select((v, i) => Task.Run(async () =>
        {
            plugs[i].Size = v.Length;
            plugs[i].ModifiedAt = DateTimeOffset.UtcNow;
            using var stream = new MemoryStream(v, writable: false);
            try
            {
                await driver.UploadFileAsync(plugs[i], stream, Cancellation).ConfigureAwait(false);
            }
            catch (ContentChangedException)
            {
                // Refusing a write over a revision it did not expect is the contract; the others won.
            }
        }, Cancellation))).ConfigureAwait(false);
        var final = await ReadFromSubjectAsync("same.bin").ConfigureAwait(false);
        Assert.That(final, Is.Not.Null, "same.bin is missing after concurrent uploads");
        Assert.That(versions.Append(content).Any(v => v.AsSpan().SequenceEqual(final)), Is.True,
            $"After {n} concurrent uploads of same.bin, its content ({final!.Length} bytes) is none of the versions sent: the writes interleaved");
    }

    private async Task<byte[]?> ReadConcurrentlyAsync(IDriver driver, string path, int size, bool chunked)
    {
        var metadata = new Metadata(FolderName, path) { Size = size };
        if (chunked && driver is IChunkedReader reader)
        {
            var buffer = new byte[size];
            var read = 0;
            while (read < size)
            {
                var n = await reader.ReadChunkAsync(metadata, read, buffer.AsMemory(read, Math.Min(4099, size - read)), Cancellation).ConfigureAwait(false);
                if (n == 0)
                    break;
                read += n;
            }
            return buffer[..read];
        }
        await using var stream = await driver.OpenReadAsync(metadata, Cancellation).ConfigureAwait(false);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, Cancellation).ConfigureAwait(false);
        return copy.ToArray();
    }

    // ---- Manifest and options ----

    /// <summary>The manifest is valid against the manifest schema (<see cref="ManifestSchemas.ValidateManifestJson"/>) and parses back to the factory's manifest id.</summary>
    [Test]
    public virtual void Manifest_is_valid_against_the_manifest_schema()
    {
        var json = GetManifestJson();
        var errors = ManifestSchemas.ValidateManifestJson(json);
        Assert.That(errors, Is.Empty, $"The manifest of '{Factory.Manifest.Id}' is not valid:\n{json}");
        Assert.That(DriverManifest.Parse(json).Id, Is.EqualTo(Factory.Manifest.Id), "The manifest JSON's id is not the factory's manifest id");
    }

    /// <summary>The area's options are valid; without each mandatory option in turn, validation fails naming that option.</summary>
    [Test]
    public virtual void Every_mandatory_option_is_required()
    {
        var validator = new OptionsValidator();
        var manifest = Factory.Manifest;
        var valid = validator.Validate(SubjectService, manifest, Area.Options);
        Assert.That(valid.Errors, Is.Empty, "The area's options should be valid");
        var mandatory = manifest.Options.Values.Where(o => o.IsMandatory).ToList();
        if (mandatory.Count == 0)
            Assert.Ignore($"The manifest of '{manifest.Id}' has no mandatory option.");
        foreach (var option in mandatory)
        {
            var without = Area.Options.Where(p => p.Key != option.Key).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
            var result = validator.Validate(SubjectService, manifest, without);
            Assert.That(result.IsValid, Is.False, $"The options validated without the mandatory option '{option.Key}'");
            Assert.That(result.Errors, Has.Some.Contains(option.Key), $"No error names the missing option '{option.Key}'");
        }
    }

    /// <summary>An option given a value of the wrong type fails validation, naming the option.</summary>
    [Test]
    public virtual void Options_of_the_wrong_type_are_rejected()
    {
        var validator = new OptionsValidator();
        var manifest = Factory.Manifest;
        var tried = 0;
        foreach (var option in manifest.Options.Values)
        {
            object? wrong = option.Type switch
            {
                OptionType.Integer => "not a number",
                OptionType.Float => "not a number",
                OptionType.Boolean => "not a boolean",
                OptionType.Enumerate => "not-one-of-the-values-" + Guid.NewGuid().ToString("N"),
                _ => new Dictionary<string, object?> { ["a"] = "mapping" },
            };
            var options = Area.Options.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
            options[option.Key] = wrong;
            var result = validator.Validate(SubjectService, manifest, options);
            Assert.That(result.IsValid, Is.False, $"The option '{option.Key}' ({option.Type}) validated with the value {wrong}");
            Assert.That(result.Errors, Has.Some.Contains(option.Key), $"No error names the option '{option.Key}' given a wrong value");
            tried++;
        }
        if (tried == 0)
            Assert.Ignore($"The manifest of '{manifest.Id}' has no option.");
    }

    // ---- Lifecycle ----

    /// <summary>A driver instance that scanned and wrote closes cleanly: DisposeAsync completes without exception, and twice is safe.</summary>
    [Test]
    public virtual async Task Closes_cleanly_twice()
    {
        var plug = CreateSubjectPlug();
        var driver = Factory.Create(plug);
        using (var stream = new MemoryStream(Content(10, 900)))
            await driver.UploadFileAsync(new Metadata(FolderName, "close.txt") { Size = 10 }, stream, Cancellation).ConfigureAwait(false);
        await driver.ScanAsync(Cancellation).ConfigureAwait(false);
        await driver.DisposeAsync().AsTask().WaitAsync(Scaled(10), Cancellation).ConfigureAwait(false);
        await driver.DisposeAsync().AsTask().WaitAsync(Scaled(10), Cancellation).ConfigureAwait(false);

        await using var engine = CreateEngine();
        await SyncAsync("before closing the engine").ConfigureAwait(false);
        await StopEngineAsync().ConfigureAwait(false);
    }
}
