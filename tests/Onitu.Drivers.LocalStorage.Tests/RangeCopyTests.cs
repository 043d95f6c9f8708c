using Microsoft.Win32.SafeHandles;

namespace Onitu.Drivers.LocalStorage.Tests;

/// <summary>
/// <see cref="FileCopy"/> on large files: a file with holes is copied data range by data range at the same offsets
/// (the holes stay holes, as cp keeps them, instead of every zero being written), in pieces between which cancellation
/// is looked at, with <c>sendfile</c> where <c>copy_file_range</c> will not copy between two file systems and
/// <c>pread</c>/<c>pwrite</c> where neither will; sizes that
/// are no multiple of a piece or of a block, holes at the start and at the end, and a cancelled copy leaving nothing.
/// </summary>
[Platform(Include = "Linux", Reason = "copy_file_range, SEEK_DATA and SEEK_HOLE.")]
public class RangeCopyTests : DriverTestBase
{
    private const int Piece = 64 * 1024;
    private string _shm = null!;

    [SetUp]
    public void CreateShm()
    {
        if (!FileCopy.IsNative)
            Assert.Ignore("No statx here: File.Copy copies.");
        _shm = Path.Combine("/dev/shm", "onitu-range-copy-" + Guid.NewGuid().ToString("N"));
        if (Directory.Exists("/dev/shm"))
            Directory.CreateDirectory(_shm);
    }

    [TearDown]
    public void DeleteShm()
    {
        if (Directory.Exists(_shm))
            Directory.Delete(_shm, recursive: true);
    }

    // (start, length) of the data written into a file of the given size; the rest is holes.
    private static readonly (long Start, int Length)[] HoleFirst = [(1_048_576 + 5, 200_000), (3_000_000, 70_001)];

    [TestCase("disk", "disk", 4_194_304 + 1_234, true, TestName = "Holes in the middle and at the end, on the disk")]
    [TestCase("disk", "disk", 3_070_001, true, TestName = "A hole at the start, data up to an odd end, on the disk")]
    [TestCase("shm", "shm", 4_194_304 + 1_234, true, TestName = "Holes in the middle and at the end, on tmpfs")]
    [TestCase("shm", "disk", 4_194_304 + 1_234, true, TestName = "From tmpfs to the disk (sendfile: no copy_file_range across file systems)")]
    [TestCase("disk", "disk", 4_194_304 + 1_234, false, TestName = "Holes kept by reads and writes")]
    public void A_file_with_holes_is_copied_whole_and_its_holes_stay_holes(string from, string to, long size, bool inKernel)
    {
        var source = Path.Combine(Place(from), "sparse.bin");
        var temp = Path.Combine(Place(to), "copy.bin");
        var expected = WriteSparse(source, size, HoleFirst);
        var allocated = Allocated(source);
        Assume.That(allocated, Is.LessThan(size / 2), "this file system keeps holes");

        var state = new FileCopy { Piece = Piece, InKernel = inKernel }.Copy(source, temp, flushToDisk: false, Token);

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllBytes(temp), Is.EqualTo(expected), "the same content, zeros where the holes are");
            Assert.That(state.Size, Is.EqualTo(size));
            Assert.That(Allocated(temp), Is.LessThan(size / 2), $"the holes stay holes (the source has {allocated} bytes allocated)");
        });
    }

    [TestCase("disk", "disk", 5L * Piece + 4_097, true, TestName = "A dense file of several pieces and an odd tail, on the disk")]
    [TestCase("shm", "disk", 5L * Piece + 4_097, true, TestName = "A dense file from tmpfs to the disk, by sendfile")]
    [TestCase("disk", "disk", 5L * Piece + 4_097, false, TestName = "A dense file of several pieces by reads and writes")]
    [TestCase("disk", "disk", Piece, true, TestName = "A dense file of exactly one piece")]
    public void A_dense_file_of_several_pieces_is_copied_whole(string from, string to, long size, bool inKernel)
    {
        var source = Path.Combine(Place(from), "dense.bin");
        var temp = Path.Combine(Place(to), "copy.bin");
        File.WriteAllBytes(source, RandomBytes((int)size, 11));
        var offsets = new List<long>();

        new FileCopy { Piece = Piece, InKernel = inKernel, PieceCopied = offsets.Add }.Copy(source, temp, flushToDisk: false, Token);

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllBytes(temp), Is.EqualTo(RandomBytes((int)size, 11)));
            Assert.That(offsets, Is.Ordered.Ascending.And.Not.Empty);
            Assert.That(offsets[^1], Is.EqualTo(size), "the last piece ends at the end of the file");
        });
    }

    [Test]
    public async Task A_copy_cancelled_between_two_pieces_leaves_neither_the_target_nor_a_temporary_file()
    {
        var source = Path.Combine(DocsDir, "big.bin");
        Directory.CreateDirectory(DocsDir);
        WriteSparse(source, 1_000_000 + 3, [(0, 300_000), (600_000, 400_003)]);
        await using var driver = CreateDriver();
        using var cancel = new CancellationTokenSource();
        var copier = driver.CopierFor("pics");
        copier.Piece = Piece;
        var offsets = new List<long>();
        copier.PieceCopied = offset =>
        {
            offsets.Add(offset);
            if (offsets.Count == 2)
                cancel.Cancel();
        };

        Assert.That(async () => await driver.CopyFromAsync(driver, Meta("docs", "big.bin", DiskRevision(source)), Meta("pics", "big.bin"), cancel.Token),
            Throws.InstanceOf<OperationCanceledException>());

        Assert.Multiple(() =>
        {
            Assert.That(offsets, Has.Count.EqualTo(2), "cancelled in the middle of the first range, not after the copy");
            Assert.That(File.Exists(Path.Combine(PicsDir, "big.bin")), Is.False);
            Assert.That(TempFilesIn(PicsDir), Is.Empty);
        });
    }

    private string Place(string name)
    {
        if (name == "disk")
        {
            Directory.CreateDirectory(DocsDir);
            return DocsDir;
        }
        if (!Directory.Exists(_shm))
            Assert.Ignore("No tmpfs at /dev/shm.");
        return _shm;
    }

    // Writes random data at the given ranges of a file of the given size (the rest never written: holes where the file
    // system keeps them) and returns its whole content as read back.
    private static byte[] WriteSparse(string path, long size, (long Start, int Length)[] ranges)
    {
        var content = new byte[size];
        using (var file = new FileStream(path, FileMode.Create, FileAccess.Write))
        {
            file.SetLength(size);
            var seed = 1;
            foreach (var (start, length) in ranges)
            {
                var data = RandomBytes(length, seed++);
                file.Position = start;
                file.Write(data);
                data.CopyTo(content, start);
            }
        }
        return content;
    }

    private static long Allocated(string path)
    {
        using SafeFileHandle handle = File.OpenHandle(path);
        NativeStat.FStat((int)handle.DangerousGetHandle(), path, out var allocated);
        return allocated;
    }
}
