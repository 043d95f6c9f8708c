using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// Copies a local file into a temporary file for <see cref="LocalStorageDriver.CopyFromAsync"/>, keeping its permission
/// bits and modification time as <see cref="File.Copy(string, string, bool)"/> does, in about half its system calls:
/// on Linux the source is opened without following a final link, the kernel copies (a reflink with <c>FICLONE</c>
/// where the file system shares blocks, tried until it refuses once for that source's file system, else
/// <c>copy_file_range</c>, else reads and writes), no advisory lock is taken (the staged temporary file is the driver's
/// own, and a source changed meanwhile is caught by the engine's revision check), and the state of what was written
/// is read from the open descriptor rather than by path again. Elsewhere <see cref="File.Copy(string, string, bool)"/>.
/// </summary>
internal sealed partial class FileCopy
{
    private const int ORdOnly = 0, OWrOnly = 1, OCreat = 0x40, OExcl = 0x80, OCloexec = 0x80000;
    private const int ENOENT = 2, EINTR = 4, ENOSYS = 38, ELOOP = 40, EACCES = 13, EPERM = 1;
    private const uint PermissionBits = 0x1FF; // rwx for user, group and others, as File.Copy keeps them
    private const nuint Ficlone = 0x40049409; // _IOW(0x94, 9, int)
    private const long UtimeOmit = (1L << 30) - 2;
    // Cancellation is looked at between pieces: a large file is not one uninterruptible call.
    private const long CopyPiece = 64L * 1024 * 1024;
    private const int FallbackBufferSize = 1024 * 1024;

    private static readonly uint? s_umask = ReadUmask();

    // Source file systems (by device) whose files this destination could not clone; a refusal is remembered, so a
    // file system without reflinks (tmpfs, ext4) costs one failed ioctl per service, not one per file.
    private readonly ConcurrentDictionary<ulong, bool> _cloneRefused = new();

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
    public FileState Copy(string source, string temp, bool flushToDisk, CancellationToken cancellationToken)
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
            var stat = NativeStat.FStat(from, source);
            if (stat.Kind != EntryKind.File)
                throw new FileNotFoundException($"{source} is not a regular file any more.", source);
            var mode = stat.Mode & PermissionBits;
            var to = DiskOps.CreateFresh(temp, () => OpenTemp(temp, mode, noFollow));
            try
            {
                CopyContent(from, to, stat, source, temp, cancellationToken);
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

    private void CopyContent(int from, int to, EntryStat stat, string source, string temp, CancellationToken cancellationToken)
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
        long copied = 0;
        while (copied < stat.Size)
        {
            cancellationToken.ThrowIfCancellationRequested();
            nint result;
            try
            {
                result = copy_file_range(from, IntPtr.Zero, to, IntPtr.Zero, (nuint)Math.Min(stat.Size - copied, CopyPiece), 0);
            }
            catch (EntryPointNotFoundException)
            {
                result = -1; // a libc before copy_file_range (glibc 2.27)
                Marshal.SetLastPInvokeError(ENOSYS);
            }
            if (result > 0)
            {
                copied += result;
                continue;
            }
            if (result == 0)
                return; // the source shrank meanwhile: the engine's revision check of the source sees it
            var errno = Marshal.GetLastPInvokeError();
            if (errno == EINTR)
                continue;
            if (copied == 0)
            {
                // Not between these two files (EXDEV before Linux 5.3, EINVAL, ENOSYS, EOPNOTSUPP): plain reads and writes.
                ReadWriteCopy(from, to, source, temp, cancellationToken);
                return;
            }
            throw Error(errno, $"Cannot copy {source} to {temp}");
        }
    }

    private static void ReadWriteCopy(int from, int to, string source, string temp, CancellationToken cancellationToken)
    {
        var buffer = new byte[FallbackBufferSize];
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var read = read_(from, ref buffer[0], (nuint)buffer.Length);
            if (read == 0)
                return;
            if (read < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR)
                    continue;
                throw Error(errno, $"Cannot read {source}");
            }
            for (long written = 0; written < read;)
            {
                var result = write(to, ref buffer[(int)written], (nuint)(read - written));
                if (result < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == EINTR)
                        continue;
                    throw Error(errno, $"Cannot write {temp}");
                }
                written += result;
            }
        }
    }

    private static FileState ManagedCopy(string source, string temp, bool flushToDisk)
    {
        DiskOps.CreateFresh(temp, () =>
        {
            File.Copy(source, temp, overwrite: false);
            return true;
        });
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
    private static partial nint copy_file_range(int fdIn, IntPtr offIn, int fdOut, IntPtr offOut, nuint length, uint flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint read_(int fd, ref byte buffer, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, ref byte buffer, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fchmod(int fd, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int futimens(int fd, ref long times);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);
}
