using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// Copies a local file into a temporary file for <see cref="LocalStorageDriver.CopyFromAsync"/>, keeping its permission
/// bits and modification time as <see cref="File.Copy(string, string, bool)"/> does, in about half its system calls:
/// on Linux the source is opened without following a final link, the kernel copies (a reflink with <c>FICLONE</c>
/// where the file system shares blocks, tried until it refuses once for that source's file system, else
/// <c>copy_file_range</c>, else reads and writes; of a file with holes only its data, so that the holes stay holes as
/// cp keeps them), no advisory lock is taken (the staged temporary file is the driver's
/// own, and a source changed meanwhile is caught by the engine's revision check), and the state of what was written
/// is read from the open descriptor rather than by path again. Elsewhere <see cref="File.Copy(string, string, bool)"/>.
/// One stream per file: several threads copying ranges of one file (as rclone does to network stores) gained nothing on
/// tmpfs or ext4, whose writes to one file take its inode lock (the threads waited in <c>rwsem_down_write_slowpath</c>).
/// </summary>
/// <param name="makeDirectory">
/// Makes a missing directory for a temporary file made by path: the destination folder's
/// <see cref="StorageFolder.MakeDirectory"/>, which never makes the folder's own directory (tests copy between plain
/// directories without it).
/// </param>
internal sealed partial class FileCopy(Action<string>? makeDirectory = null)
{
    private readonly Action<string> _makeDirectory = makeDirectory ?? (directory => Directory.CreateDirectory(directory));

    private const int ORdOnly = 0, OWrOnly = 1, OCreat = 0x40, OExcl = 0x80, OCloexec = 0x80000;
    private const int ENOENT = 2, EINTR = 4, ENXIO = 6, ENOSYS = 38, ELOOP = 40, EACCES = 13, EPERM = 1;
    private const int SeekSet = 0, SeekData = 3, SeekHole = 4;
    private const uint PermissionBits = 0x1FF; // rwx for user, group and others, as File.Copy keeps them
    private const nuint Ficlone = 0x40049409; // _IOW(0x94, 9, int)
    private const long UtimeOmit = (1L << 30) - 2;
    // Cancellation is looked at between pieces: a large file is not one uninterruptible call.
    private const long CopyPiece = 64L * 1024 * 1024;
    // cp's size. Measured across file systems (1 GiB, tmpfs to ext4): 128 KiB took 0.3-0.4 s of system time, 1 MiB
    // 1.7 s and four times the wall time.
    private const int FallbackBufferSize = 128 * 1024;

    private static readonly uint? s_umask = ReadUmask();

    // Source file systems (by device) whose files this destination could not clone; a refusal is remembered, so a
    // file system without reflinks (tmpfs, ext4) costs one failed ioctl per service, not one per file.
    private readonly ConcurrentDictionary<ulong, bool> _cloneRefused = new();

    /// <summary>The most one system call copies, cancellation being looked at between two (smaller in tests).</summary>
    internal long Piece { get; set; } = CopyPiece;

    /// <summary>Whether the kernel copies (false in tests: the reads and writes used where it refuses).</summary>
    internal bool InKernel { get; set; } = true;

    /// <summary>Called after each piece copied with the offset reached (tests: cancellation in the middle of a copy).</summary>
    internal Action<long>? PieceCopied { get; set; }

    /// <summary>Whether the system calls are used here (Linux with <c>statx</c>), rather than <see cref="File.Copy(string, string, bool)"/>.</summary>
    public static bool IsNative => AnchoredPaths.Flags is not null && NativeStat.HasInodes;

    /// <summary>Whether a clone from the file system of <paramref name="sourceDevice"/> was refused already (for tests).</summary>
    internal bool CloneRefused(ulong sourceDevice) => _cloneRefused.ContainsKey(sourceDevice);

    /// <summary>
    /// Copies <paramref name="source"/> to <paramref name="temp"/> (created anew, replacing a file left from an earlier
    /// attempt; its directory created when missing) and returns the state of what was written.
    /// </summary>
    /// <exception cref="FileNotFoundException">The source is gone, or is no regular file any more (a link, a directory).</exception>
    /// <exception cref="IOException">Reading or writing failed (a full disk's errno is its <see cref="Exception.HResult"/>).</exception>
    public FileState Copy(string source, string temp, bool flushToDisk, CancellationToken cancellationToken) =>
        Copy(source, temp, staged: null, flushToDisk, cancellationToken);

    /// <summary>
    /// As <see cref="Copy(string, string, bool, CancellationToken)"/>, into <paramref name="staged"/> when given (made
    /// relative to its held staging directory; <paramref name="temp"/> is then its path, for messages).
    /// </summary>
    public FileState Copy(string source, string temp, StagedFile? staged, bool flushToDisk, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!IsNative)
            return ManagedCopy(source, temp, flushToDisk);
        var noFollow = AnchoredPaths.Flags!.Value.NoFollow;
        var from = open(source, ORdOnly | noFollow | OCloexec, 0);
        if (from < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno is ENOENT or ELOOP
                ? new FileNotFoundException(errno == ELOOP ? $"{source} is a symbolic link now, not a file." : $"{source} is not there any more.", source)
                : Error(errno, $"Cannot open {source}");
        }
        try
        {
            var stat = NativeStat.FStat(from, source, out var allocated);
            if (stat.Kind != EntryKind.File)
                throw new FileNotFoundException($"{source} is not a regular file any more.", source);
            var mode = stat.Mode & PermissionBits;
            var to = staged is not null ? staged.Create(mode) : DiskOps.CreateFresh(temp, () => OpenTemp(temp, mode, noFollow), _makeDirectory);
            try
            {
                CopyContent(from, to, stat, allocated, source, temp, cancellationToken);
                // Created with the source's bits, less the umask: set them only when the umask took some (or unknown).
                if ((s_umask is not { } umask || (mode & umask) != 0) && fchmod(to, mode) != 0)
                    throw Error(Marshal.GetLastPInvokeError(), $"Cannot set the permissions of {temp}");
                var (seconds, nanoseconds) = stat.UnixMtime;
                Span<long> times = [0, UtimeOmit, seconds, nanoseconds];
                if (futimens(to, ref MemoryMarshal.GetReference(times)) != 0)
                    throw Error(Marshal.GetLastPInvokeError(), $"Cannot set the modification time of {temp}");
                if (flushToDisk && fsync(to) != 0)
                    throw Error(Marshal.GetLastPInvokeError(), $"Cannot flush {temp} to disk");
                return FileState.From(NativeStat.FStat(to, temp))
                    ?? throw new IOException($"{temp} is not a regular file.");
            }
            finally
            {
                close(to);
            }
        }
        finally
        {
            close(from);
        }
    }

    private static int OpenTemp(string temp, uint mode, int noFollow)
    {
        // Created exclusively, so the permission bits given here are the file's, and never through a link: the name is
        // the driver's own. EEXIST becomes an IOException with that HResult, on which DiskOps.CreateFresh removes a
        // leftover of an earlier attempt (or anything else under that name) and calls again: made anew, not truncated.
        var fd = open(temp, OWrOnly | OCreat | OExcl | noFollow | OCloexec, mode);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            // DiskOps.CreateFresh (through WithDirectory) creates the missing directory on DirectoryNotFoundException.
            throw errno == ENOENT ? new DirectoryNotFoundException($"Cannot create {temp}: its directory is missing.") : Error(errno, $"Cannot create {temp}");
        }
        return fd;
    }

    private void CopyContent(int from, int to, EntryStat stat, long allocated, string source, string temp, CancellationToken cancellationToken)
    {
        if (stat.Size == 0)
            return;
        if (!_cloneRefused.ContainsKey(stat.Device))
        {
            if (ioctl(to, Ficlone, from) == 0)
                return;
            // EOPNOTSUPP, EXDEV, EINVAL, ENOTTY...: nothing was written; this file system will not clone.
            _cloneRefused.TryAdd(stat.Device, true);
        }
        // Fewer bytes allocated than the size: the file may have holes (a disk image, a database, a download written
        // sparse). Only its data is copied, at the same offsets, and the holes stay holes, as cp keeps them: a copy
        // that read the holes would write every zero and take all of the file's size on the disk. A file with all its
        // blocks is one range, without asking where its data is.
        var ranges = allocated >= 0 && allocated < stat.Size ? DataRanges(from, stat.Size) : [(0, stat.Size)];
        var job = new RangeCopy(this, from, to, source, temp, cancellationToken);
        long end = 0;
        foreach (var (start, length) in ranges)
        {
            var copied = job.Copy(start, length);
            end = start + copied;
            if (copied < length)
                return; // the source shrank meanwhile: the engine's revision check of the source sees it
        }
        // A hole at the end: the size says where the file ends.
        if (end < stat.Size && ftruncate(to, stat.Size) != 0)
            throw Error(Marshal.GetLastPInvokeError(), $"Cannot set the size of {temp}");
    }

    // Where the data of a file that may have holes is: lseek's SEEK_DATA and SEEK_HOLE, as cp asks. A file system that
    // cannot tell (EINVAL) has the rest copied as data.
    private static IEnumerable<(long Start, long Length)> DataRanges(int from, long size)
    {
        long offset = 0;
        while (offset < size)
        {
            var data = lseek(from, offset, SeekData);
            if (data < 0)
            {
                if (Marshal.GetLastPInvokeError() != ENXIO)
                    yield return (offset, size - offset);
                yield break; // ENXIO: nothing but a hole from here on
            }
            if (data >= size)
                yield break;
            var hole = lseek(from, data, SeekHole);
            if (hole < 0 || hole > size)
                hole = size;
            yield return (data, hole - data);
            offset = hole;
        }
    }

    /// <summary>
    /// Copies ranges of one file at the same offsets in the temporary file, in pieces between which cancellation is
    /// looked at: <c>copy_file_range</c> with explicit offsets; where the kernel will not copy between these two files
    /// before anything was copied (EXDEV across file systems, EINVAL, ENOSYS, EOPNOTSUPP), <c>sendfile</c>, which
    /// copies across file systems in the kernel too; where that is refused as well, <c>pread</c>/<c>pwrite</c>.
    /// </summary>
    private sealed class RangeCopy(FileCopy owner, int from, int to, string source, string temp, CancellationToken cancellationToken)
    {
        private enum Way { CopyFileRange, SendFile, ReadWrite }

        private Way _way = owner.InKernel ? Way.CopyFileRange : Way.ReadWrite;
        private bool _anyCopied;
        private long _outPosition;
        private byte[]? _buffer;

        /// <summary>Copies [<paramref name="start"/>, +<paramref name="length"/>); fewer bytes when the source ends first.</summary>
        public long Copy(long start, long length)
        {
            long done = 0;
            while (done < length)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var want = Math.Min(length - done, owner.Piece);
                var result = _way switch
                {
                    Way.CopyFileRange => CopyFileRangePiece(start + done, want),
                    Way.SendFile => SendFilePiece(start + done, want),
                    _ => ReadWritePiece(start + done, want),
                };
                if (result < 0)
                    continue; // EINTR, or refused before anything was copied: again, the next way
                if (result == 0)
                    return done;
                done += result;
                _anyCopied = true;
                owner.PieceCopied?.Invoke(start + done);
            }
            return done;
        }

        private long CopyFileRangePiece(long offset, long want)
        {
            long offsetIn = offset, offsetOut = offset;
            nint result;
            try
            {
                result = copy_file_range(from, ref offsetIn, to, ref offsetOut, (nuint)want, 0);
            }
            catch (EntryPointNotFoundException)
            {
                result = -1; // a libc before copy_file_range (glibc 2.27)
                Marshal.SetLastPInvokeError(ENOSYS);
            }
            return result >= 0 ? result : Refused(Way.SendFile);
        }

        private long SendFilePiece(long offset, long want)
        {
            // sendfile writes at the descriptor's position: moved only where a hole was skipped.
            if (_outPosition != offset)
            {
                if (lseek(to, offset, SeekSet) < 0)
                    throw Error(Marshal.GetLastPInvokeError(), $"Cannot write {temp}");
                _outPosition = offset;
            }
            var offsetIn = offset;
            var result = sendfile(to, from, ref offsetIn, (nuint)want);
            if (result < 0)
                return Refused(Way.ReadWrite);
            _outPosition += result;
            return result;
        }

        // -1 to try again: EINTR the same way, a refusal before anything was copied the next way; else the error.
        private long Refused(Way next)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno == EINTR)
                return -1;
            if (_anyCopied)
                throw Error(errno, $"Cannot copy {source} to {temp}");
            _way = next;
            return -1;
        }

        private long ReadWritePiece(long offset, long want)
        {
            _buffer ??= new byte[FallbackBufferSize];
            var read = pread(from, ref _buffer[0], (nuint)Math.Min(want, _buffer.Length), offset);
            if (read < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                return errno == EINTR ? -1 : throw Error(errno, $"Cannot read {source}");
            }
            for (long written = 0; written < read;)
            {
                var result = pwrite(to, ref _buffer[(int)written], (nuint)(read - written), offset + written);
                if (result < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == EINTR)
                        continue;
                    throw Error(errno, $"Cannot write {temp}");
                }
                written += result;
            }
            return read;
        }
    }

    private FileState ManagedCopy(string source, string temp, bool flushToDisk)
    {
        DiskOps.CreateFresh(temp, () =>
        {
            File.Copy(source, temp, overwrite: false);
            return true;
        }, _makeDirectory);
        if (flushToDisk)
            DiskOps.FlushToDisk(temp);
        return FileState.TryRead(temp) ?? throw new IOException($"{temp} vanished as it was written.");
    }

    // As .NET reports the same errno from its own file calls, so that callers handle both alike (a full disk's
    // HResult is its errno, which DiskOps.IsDiskFull looks for).
    private static Exception Error(int errno, string what)
    {
        var message = $"{what}: {Marshal.GetPInvokeErrorMessage(errno)}";
        return errno is EACCES or EPERM ? new UnauthorizedAccessException(message) : new IOException(message, errno);
    }

    // The umask cannot be read without setting it (a race with other threads creating files); Linux shows it here.
    private static uint? ReadUmask()
    {
        if (!OperatingSystem.IsLinux())
            return null;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("Umask:", StringComparison.Ordinal))
                    return Convert.ToUInt32(line["Umask:".Length..].Trim(), 8);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
        }
        return null;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string pathname, int flags, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ioctl(int fd, nuint request, int arg);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint copy_file_range(int fdIn, ref long offIn, int fdOut, ref long offOut, nuint length, uint flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint sendfile(int fdOut, int fdIn, ref long offset, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial long lseek(int fd, long offset, int whence);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ftruncate(int fd, long length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint pread(int fd, ref byte buffer, nuint count, long offset);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint pwrite(int fd, ref byte buffer, nuint count, long offset);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fchmod(int fd, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int futimens(int fd, ref long times);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);
}
