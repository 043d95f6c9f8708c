using NUnit.Framework;

namespace Onitu.Testing;

// Copies through the engine, both ways: sizes, rewrites, deep directories, awkward names.
public abstract partial class DriverConformanceTests
{
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
}
