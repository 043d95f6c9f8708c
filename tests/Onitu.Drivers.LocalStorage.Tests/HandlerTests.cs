using System.Reflection;

namespace Onitu.Drivers.LocalStorage.Tests;

public class HandlerTests : DriverTestBase
{
    [Test]
    public async Task UploadFile_writes_atomically_and_sets_revision_size_and_time()
    {
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);
        var content = RandomBytes(300_000, seed: 1);
        var metadata = Meta("docs", "sub/dir/file.bin");

        await driver.UploadFileAsync(metadata, new MemoryStream(content), Token);

        var full = Path.Combine(DocsDir, "sub/dir/file.bin");
        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllBytes(full), Is.EqualTo(content));
            Assert.That(metadata.Revision, Is.EqualTo(DiskRevision(full)));
            Assert.That(metadata.Size, Is.EqualTo(content.Length));
            Assert.That(metadata.ModifiedAt, Is.EqualTo(new DateTimeOffset(File.GetLastWriteTimeUtc(full))));
            Assert.That(TempFilesIn(DocsDir), Is.Empty);
        });
    }

    [Test]
    public async Task UploadFile_overwrites_the_revision_the_engine_knows()
    {
        var full = Write(Path.Combine(DocsDir, "doc.txt"), "old");
        await using var driver = CreateDriver();
        var metadata = Meta("docs", "doc.txt", DiskRevision(full));

        await driver.UploadFileAsync(metadata, new MemoryStream("new content"u8.ToArray()), Token);

        Assert.That(File.ReadAllText(full), Is.EqualTo("new content"));
    }

    [TestCase(null, TestName = "UploadFile_refuses_to_overwrite_a_file_the_engine_believes_absent")]
    [TestCase("3-638000000000000000", TestName = "UploadFile_refuses_to_overwrite_a_file_changed_since_the_known_revision")]
    public async Task UploadFile_refuses_to_overwrite_an_unseen_version(string? knownRevision)
    {
        var full = Write(Path.Combine(DocsDir, "doc.txt"), "the user's edit");
        await using var driver = CreateDriver();
        var mark = Plug.CallCount;

        Assert.ThrowsAsync<ContentChangedException>(async () =>
            await driver.UploadFileAsync(Meta("docs", "doc.txt", knownRevision), new MemoryStream("engine's"u8.ToArray()), Token));

        var calls = Plug.Calls(mark);
        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllText(full), Is.EqualTo("the user's edit"));
            Assert.That(calls, Has.Count.EqualTo(1));
            Assert.That(calls[0].Kind, Is.EqualTo(CallKind.Update));
            Assert.That(calls[0].File.Path, Is.EqualTo("doc.txt"));
            Assert.That(calls[0].File.Revision, Is.EqualTo(DiskRevision(full)));
            Assert.That(TempFilesIn(DocsDir), Is.Empty);
        });
    }

    [Test]
    public async Task UploadFile_writes_a_file_deleted_since_the_known_revision_because_an_edit_beats_a_deletion()
    {
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);

        await driver.UploadFileAsync(Meta("docs", "doc.txt", "5-638000000000000000"), new MemoryStream("back"u8.ToArray()), Token);

        Assert.That(File.ReadAllText(Path.Combine(DocsDir, "doc.txt")), Is.EqualTo("back"));
    }

    [Test]
    public async Task Concurrent_uploads_of_one_new_file_let_exactly_one_win()
    {
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(async i =>
        {
            try
            {
                await driver.UploadFileAsync(Meta("docs", "race.txt"), new MemoryStream(RandomBytes(50_000, i)), Token);
                return true;
            }
            catch (ContentChangedException)
            {
                return false;
            }
        }));

        Assert.Multiple(() =>
        {
            Assert.That(results.Count(won => won), Is.EqualTo(1));
            Assert.That(TempFilesIn(DocsDir), Is.Empty);
        });
    }

    [Test]
    public async Task OpenRead_and_ReadChunk_return_the_content()
    {
        var content = RandomBytes(1_000_000, seed: 2);
        var full = Path.Combine(DocsDir, "big.bin");
        Directory.CreateDirectory(DocsDir);
        File.WriteAllBytes(full, content);
        await using var driver = CreateDriver();
        var metadata = Meta("docs", "big.bin", DiskRevision(full));

        await using (var stream = await driver.OpenReadAsync(metadata, Token))
        {
            var copy = new MemoryStream();
            await stream.CopyToAsync(copy, Token);
            Assert.That(copy.ToArray(), Is.EqualTo(content));
        }
        var buffer = new byte[300_000];
        var read = await driver.ReadChunkAsync(metadata, 900_000, buffer, Token);
        Assert.Multiple(() =>
        {
            Assert.That(read, Is.EqualTo(100_000), "fewer bytes only at the end of the file");
            Assert.That(buffer.AsSpan(0, read).ToArray(), Is.EqualTo(content[900_000..]));
        });
    }

    [Test]
    public async Task Reading_a_missing_file_throws_RemoteFileNotFound()
    {
        Directory.CreateDirectory(Path.Combine(DocsDir, "a directory"));
        await using var driver = CreateDriver();

        Assert.ThrowsAsync<RemoteFileNotFoundException>(async () => await driver.OpenReadAsync(Meta("docs", "nope.txt"), Token));
        Assert.ThrowsAsync<RemoteFileNotFoundException>(async () => await driver.ReadChunkAsync(Meta("docs", "no/such/dir.txt"), 0, new byte[10], Token));
        Assert.ThrowsAsync<RemoteFileNotFoundException>(async () => await driver.OpenReadAsync(Meta("docs", "a directory"), Token));
    }

    [Test]
    public async Task DeleteFile_deletes_and_removes_the_directories_it_empties_but_not_the_folder()
    {
        var full = Write(Path.Combine(DocsDir, "a/b/c/file.txt"), "x");
        Write(Path.Combine(DocsDir, "a/other.txt"), "keeps a/");
        await using var driver = CreateDriver();

        await driver.DeleteFileAsync(Meta("docs", "a/b/c/file.txt", DiskRevision(full)), Token);

        Assert.Multiple(() =>
        {
            Assert.That(File.Exists(full), Is.False);
            Assert.That(Directory.Exists(Path.Combine(DocsDir, "a/b")), Is.False);
            Assert.That(Directory.Exists(Path.Combine(DocsDir, "a")), Is.True);
        });

        var last = Write(Path.Combine(DocsDir, "only.txt"), "x");
        await driver.DeleteFileAsync(Meta("docs", "only.txt", DiskRevision(last)), Token);
        Assert.That(Directory.Exists(DocsDir), Is.True);
    }

    [Test]
    public async Task DeleteFile_of_a_missing_file_is_not_an_error()
    {
        await using var driver = CreateDriver();

        Assert.That(async () => await driver.DeleteFileAsync(Meta("docs", "never/was.txt", "1-2"), Token), Throws.Nothing);
        Assert.That(Plug.Calls(), Is.Empty);
    }

    [Test]
    public async Task DeleteFile_refuses_when_the_file_changed_because_an_edit_beats_a_deletion()
    {
        var full = Write(Path.Combine(DocsDir, "doc.txt"), "v1");
        var known = DiskRevision(full);
        File.WriteAllText(full, "v2, edited since");
        await using var driver = CreateDriver();

        Assert.ThrowsAsync<ContentChangedException>(async () => await driver.DeleteFileAsync(Meta("docs", "doc.txt", known), Token));

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllText(full), Is.EqualTo("v2, edited since"));
            Assert.That(Plug.Calls().Single().Kind, Is.EqualTo(CallKind.Update));
            Assert.That(Plug.Calls().Single().File.Revision, Is.EqualTo(DiskRevision(full)));
        });
    }

    [Test]
    public async Task MoveFile_moves_across_folders_keeps_the_content_and_sets_the_destination_revision()
    {
        var full = Write(Path.Combine(DocsDir, "from/photo.jpg"), "jpeg bytes");
        await using var driver = CreateDriver();
        var destination = Meta("pics", "2024/summer/photo.jpg");

        await driver.MoveFileAsync(Meta("docs", "from/photo.jpg", DiskRevision(full)), destination, Token);

        var moved = Path.Combine(PicsDir, "2024/summer/photo.jpg");
        Assert.Multiple(() =>
        {
            Assert.That(File.Exists(full), Is.False);
            Assert.That(Directory.Exists(Path.Combine(DocsDir, "from")), Is.False, "emptied source directory removed");
            Assert.That(File.ReadAllText(moved), Is.EqualTo("jpeg bytes"));
            Assert.That(destination.Revision, Is.EqualTo(DiskRevision(moved)));
            Assert.That(destination.Size, Is.EqualTo(10));
            Assert.That(destination.ModifiedAt, Is.Not.Null);
        });
    }

    [Test]
    public async Task MoveFile_of_a_missing_source_throws_RemoteFileNotFound()
    {
        await using var driver = CreateDriver();

        Assert.ThrowsAsync<RemoteFileNotFoundException>(async () =>
            await driver.MoveFileAsync(Meta("docs", "ghost.txt", "1-1"), Meta("docs", "still ghost.txt"), Token));
    }

    [Test]
    public async Task MoveFile_refuses_when_the_source_changed()
    {
        var full = Write(Path.Combine(DocsDir, "a.txt"), "edited");
        await using var driver = CreateDriver();

        Assert.ThrowsAsync<ContentChangedException>(async () =>
            await driver.MoveFileAsync(Meta("docs", "a.txt", "1-1"), Meta("docs", "b.txt"), Token));

        Assert.Multiple(() =>
        {
            Assert.That(File.Exists(full), Is.True);
            Assert.That(File.Exists(Path.Combine(DocsDir, "b.txt")), Is.False);
            Assert.That(Plug.Calls().Single().File.Path, Is.EqualTo("a.txt"));
        });
    }

    [Test]
    public async Task MoveFile_refuses_to_overwrite_a_destination_the_engine_has_not_seen()
    {
        var source = Write(Path.Combine(DocsDir, "a.txt"), "source");
        var destination = Write(Path.Combine(DocsDir, "b.txt"), "someone else's b");
        await using var driver = CreateDriver();

        Assert.ThrowsAsync<ContentChangedException>(async () =>
            await driver.MoveFileAsync(Meta("docs", "a.txt", DiskRevision(source)), Meta("docs", "b.txt"), Token));

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllText(source), Is.EqualTo("source"));
            Assert.That(File.ReadAllText(destination), Is.EqualTo("someone else's b"));
            Assert.That(Plug.Calls().Single().File.Path, Is.EqualTo("b.txt"));
            Assert.That(Plug.Calls().Single().File.Revision, Is.EqualTo(DiskRevision(destination)));
        });
    }

    [Test]
    public async Task MoveFile_overwrites_a_destination_at_the_known_revision()
    {
        var source = Write(Path.Combine(DocsDir, "a.txt"), "source");
        var destination = Write(Path.Combine(DocsDir, "b.txt"), "old b");
        await using var driver = CreateDriver();

        await driver.MoveFileAsync(Meta("docs", "a.txt", DiskRevision(source)), Meta("docs", "b.txt", DiskRevision(destination)), Token);

        Assert.That(File.ReadAllText(destination), Is.EqualTo("source"));
    }

    [Test]
    public async Task A_crafted_path_that_escapes_the_folder_is_refused()
    {
        Write(Path.Combine(Root, "secret.txt"), "outside every folder");
        await using var driver = CreateDriver();
        var crafted = Meta("docs", "placeholder.txt");
        // Metadata cannot be built with "..": forge one the way a buggy or hostile caller could.
        typeof(Metadata).GetField("<Path>k__BackingField", BindingFlags.Instance | BindingFlags.NonPublic)!.SetValue(crafted, "../secret.txt");
        Assert.That(crafted.Path, Is.EqualTo("../secret.txt"));

        Assert.ThrowsAsync<DriverException>(async () => await driver.OpenReadAsync(crafted, Token));
        Assert.ThrowsAsync<DriverException>(async () => await driver.ReadChunkAsync(crafted, 0, new byte[4], Token));
        Assert.ThrowsAsync<DriverException>(async () => await driver.UploadFileAsync(crafted, new MemoryStream([1]), Token));
        Assert.ThrowsAsync<DriverException>(async () => await driver.StartUploadAsync(crafted, Token));
        Assert.ThrowsAsync<DriverException>(async () => await driver.DeleteFileAsync(crafted, Token));
        Assert.ThrowsAsync<DriverException>(async () => await driver.MoveFileAsync(Meta("docs", "x"), crafted, Token));
        Assert.That(File.ReadAllText(Path.Combine(Root, "secret.txt")), Is.EqualTo("outside every folder"));
    }

    [TestCase("../escape")]
    [TestCase("a/../../escape")]
    [TestCase("..")]
    [TestCase("a/..")]
    public void The_folder_refuses_a_relative_path_that_leads_outside_it(string path)
    {
        var folder = new StorageFolder("docs", DocsDir);

        Assert.That(() => folder.GetFullPath(path), Throws.InstanceOf<DriverException>());
    }

    [Test]
    public void The_folder_keeps_a_rooted_looking_path_inside_it()
    {
        var folder = new StorageFolder("docs", DocsDir);

        Assert.That(folder.GetFullPath("/etc/passwd"), Is.EqualTo(Path.Combine(DocsDir, "etc", "passwd")));
    }

    [Test]
    public async Task A_folder_the_service_does_not_map_is_refused()
    {
        await using var driver = CreateDriver();

        Assert.ThrowsAsync<DriverException>(async () => await driver.OpenReadAsync(Meta("music", "song.mp3"), Token));
    }

    [TestCase("with space.txt")]
    [TestCase("hash#and%percent.txt")]
    [TestCase("quotes 'single' \"double\".txt")]
    [TestCase("été/ñandú.jpg")]
    [TestCase("日本語/ファイル.txt")]
    [TestCase("Ελληνικά και русский/😀 emoji.md")]
    [TestCase("semi;colon & amp=eq+plus,comma[1]{2}(3)~!@$^.txt")]
    [TestCase(" leading and trailing spaces .txt")]
    public async Task Awkward_names_round_trip(string path)
    {
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);
        var content = RandomBytes(1234, path.Length);
        var metadata = Meta("docs", path);

        await driver.UploadFileAsync(metadata, new MemoryStream(content), Token);

        Assert.That(File.ReadAllBytes(Path.Combine(DocsDir, path)), Is.EqualTo(content), "stored under exactly that name");
        await using (var stream = await driver.OpenReadAsync(metadata, Token))
        {
            var copy = new MemoryStream();
            await stream.CopyToAsync(copy, Token);
            Assert.That(copy.ToArray(), Is.EqualTo(content));
        }

        // A fresh engine scanning the disk finds the same path.
        Plug = CreatePlug();
        await using var other = CreateDriver();
        await other.ScanAsync(Token);
        Assert.That(Plug.Calls().Select(c => c.File.Path), Is.EqualTo(new[] { metadata.Path }));
        Assert.That(Plug.Calls()[0].File.Revision, Is.EqualTo(metadata.Revision));
    }

    [Test]
    public async Task Fifty_concurrent_uploads_and_chunk_reads_of_different_files_all_succeed()
    {
        await using var driver = CreateDriver();
        await driver.ScanAsync(Token);

        await Task.WhenAll(Enumerable.Range(0, 50).Select(i => Task.Run(async () =>
        {
            var content = RandomBytes(10_000 + i * 7_919, seed: i);
            var metadata = Meta(i % 2 == 0 ? "docs" : "pics", $"concurrent/{i % 5}/file {i}.bin");
            await driver.UploadFileAsync(metadata, new MemoryStream(content), Token);

            var copy = new byte[content.Length];
            var buffer = new byte[4_099];
            long offset = 0;
            int read;
            while ((read = await driver.ReadChunkAsync(metadata, offset, buffer, Token)) > 0)
            {
                buffer.AsSpan(0, read).CopyTo(copy.AsSpan((int)offset));
                offset += read;
            }
            Assert.That(offset, Is.EqualTo(content.Length));
            Assert.That(Hash(copy), Is.EqualTo(Hash(content)), $"file {i}");
        })));

        Assert.That(TempFilesIn(Root), Is.Empty);
    }
}
