using System.Runtime.InteropServices;

namespace Onitu.Drivers.LocalStorage;

/// <summary>What one <c>lstat</c> says of a directory entry: enough to tell files, directories and links apart and to
/// notice every edit (the inode changes when a file is replaced, the nanosecond mtime when it is rewritten).</summary>
/// <param name="Kind">What the entry is.</param>
/// <param name="Size">Its size in bytes.</param>
/// <param name="MtimeTicks">Its modification time in UTC ticks.</param>
/// <param name="MtimeSubTick">The nanoseconds below the tick (0 to 99).</param>
/// <param name="Inode">Its inode; 0 where the system does not give it.</param>
/// <param name="Device">The file system it is on.</param>
/// <param name="Mode">Its type and permission bits (<c>stx_mode</c>); 0 where unknown.</param>
/// <param name="MountId">The mount it is reached through (<c>stx_mnt_id</c>); 0 where the kernel does not say.</param>
internal readonly record struct EntryStat(EntryKind Kind, long Size, long MtimeTicks, int MtimeSubTick, ulong Inode, ulong Device, uint Mode = 0, ulong MountId = 0)
{
    /// <summary>
    /// Whether a rename between this entry's directory and <paramref name="other"/>'s can be atomic: one file system,
    /// and one mount of it where the kernel says (a bind mount of the same file system refuses renames: <c>EXDEV</c>).
    /// </summary>
    public bool SameMount(EntryStat other) =>
        Device == other.Device && (MountId == 0 || other.MountId == 0 || MountId == other.MountId);

    /// <summary>The modification time as <c>statx</c> gave it: seconds since the epoch and nanoseconds (for <c>futimens</c>).</summary>
    public (long Seconds, long Nanoseconds) UnixMtime
    {
        get
        {
            var sinceEpoch = MtimeTicks - DateTime.UnixEpoch.Ticks;
            var seconds = Math.DivRem(sinceEpoch, TimeSpan.TicksPerSecond, out var ticks);
            if (ticks < 0)
                (seconds, ticks) = (seconds - 1, ticks + TimeSpan.TicksPerSecond);
            return (seconds, ticks * 100 + MtimeSubTick);
        }
    }
}

/// <summary>The kind of a directory entry, not following links.</summary>
internal enum EntryKind
{
    Missing,
    File,
    Directory,
    Link,
    Other,
}

/// <summary>
/// <c>statx(2)</c> through libc on Linux: .NET exposes neither inodes nor nanosecond times of a file. Elsewhere, and on
/// a Linux whose libc or kernel lacks <c>statx</c>, the managed <see cref="FileSystemInfo"/> answers, without inode.
/// </summary>
internal static partial class NativeStat
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100, AtEmptyPath = 0x1000;
    private const uint StatxType = 0x1, StatxMode = 0x2, StatxMtime = 0x40, StatxIno = 0x100, StatxSize = 0x200, StatxBlocks = 0x400, StatxMntId = 0x1000;
    // The block count is in the same inode, the mount id in the path: asking for them costs nothing more (a network
    // file system revalidates for the size and time anyway). Kernels before 5.8 leave the mount id out of the mask.
    private const uint Wanted = StatxType | StatxMode | StatxMtime | StatxIno | StatxSize | StatxBlocks | StatxMntId;
    private const int ENOENT = 2, ENOTDIR = 20, ENOSYS = 38, EPERM = 1;
    private const ushort SIfmt = 0xF000, SIfreg = 0x8000, SIfdir = 0x4000, SIflnk = 0xA000;

    private static int s_available = OperatingSystem.IsLinux() ? 1 : 0;

    /// <summary>Whether <c>statx</c> answers here (for tests and docs: inode revisions are on).</summary>
    public static bool HasInodes => Volatile.Read(ref s_available) == 1;

    /// <summary>Looks at the entry at <paramref name="fullPath"/> without following a final link.</summary>
    /// <exception cref="IOException">The entry exists but cannot be looked at (permissions on the way, I/O error).</exception>
    public static EntryStat LStat(string fullPath)
    {
        if (Volatile.Read(ref s_available) == 1)
        {
            if (TryStatx(fullPath, out var stat))
                return stat;
        }
        return Managed(fullPath);
    }

    /// <summary>
    /// Looks at the entry at <paramref name="fullPath"/> following links (a folder's directory may be a link: the setup
    /// chose it); <see cref="EntryKind.Missing"/> for a dangling one.
    /// </summary>
    /// <exception cref="IOException">The entry exists but cannot be looked at.</exception>
    public static EntryStat Stat(string fullPath)
    {
        if (Volatile.Read(ref s_available) == 1 && TryStatx(AtFdCwd, fullPath, 0, fullPath, out var stat, out _))
            return stat;
        if (Directory.Exists(fullPath))
            return new EntryStat(EntryKind.Directory, 0, 0, 0, 0, 0);
        return File.Exists(fullPath) ? new EntryStat(EntryKind.File, 0, 0, 0, 0, 0) : new EntryStat(EntryKind.Missing, 0, 0, 0, 0, 0);
    }

    /// <summary>
    /// Looks at the file open as <paramref name="fd"/> (<c>statx</c> with <c>AT_EMPTY_PATH</c>): the state of what the
    /// descriptor holds, whatever its path has become. Linux only (<see cref="HasInodes"/>).
    /// </summary>
    /// <exception cref="IOException">The system refuses the call.</exception>
    public static EntryStat FStat(int fd, string pathForErrors) => FStat(fd, pathForErrors, out _);

    /// <summary>
    /// As <see cref="FStat(int, string)"/>, and the bytes the file system allocated to the file (<c>stx_blocks</c>
    /// times 512; -1 where the file system does not say): fewer than its size means it may have holes.
    /// </summary>
    /// <exception cref="IOException">The system refuses the call.</exception>
    public static EntryStat FStat(int fd, string pathForErrors, out long allocatedBytes)
    {
        if (Volatile.Read(ref s_available) == 1 && TryStatx(fd, "", AtEmptyPath, pathForErrors, out var stat, out allocatedBytes)
            && stat.Kind != EntryKind.Missing)
            return stat;
        throw new IOException($"Cannot look at the open file {pathForErrors}.");
    }

    /// <summary>
    /// Looks at the entry <paramref name="name"/> of the open directory <paramref name="directoryFd"/> without following
    /// a final link: the entry in that directory, wherever its path has gone. Linux only (<see cref="HasInodes"/>).
    /// </summary>
    /// <exception cref="IOException">The entry exists but cannot be looked at, or the system refuses the call.</exception>
    public static EntryStat StatAt(int directoryFd, string name, string fullPathForErrors) =>
        Volatile.Read(ref s_available) == 1 && TryStatx(directoryFd, name, AtSymlinkNoFollow, fullPathForErrors, out var stat, out _)
            ? stat
            : throw new IOException($"Cannot look at {fullPathForErrors}.");

    private static bool TryStatx(string fullPath, out EntryStat stat) =>
        TryStatx(AtFdCwd, fullPath, AtSymlinkNoFollow, fullPath, out stat, out _);

    private static unsafe bool TryStatx(int dirfd, string path, int flags, string fullPath, out EntryStat stat, out long allocatedBytes)
    {
        Statx buffer;
        int result;
        allocatedBytes = -1;
        try
        {
            result = statx(dirfd, path, flags, Wanted, &buffer);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            Volatile.Write(ref s_available, 0); // a libc without statx (glibc before 2.28, some musl builds)
            stat = default;
            return false;
        }
        if (result != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            switch (errno)
            {
                case ENOENT or ENOTDIR:
                    stat = new EntryStat(EntryKind.Missing, 0, 0, 0, 0, 0);
                    return true;
                case ENOSYS or EPERM:
                    Volatile.Write(ref s_available, 0); // a kernel (or seccomp filter) without statx
                    stat = default;
                    return false;
                default:
                    throw new IOException($"Cannot look at {fullPath}: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
            }
        }
        var kind = (buffer.Mode & SIfmt) switch
        {
            SIfreg => EntryKind.File,
            SIfdir => EntryKind.Directory,
            SIflnk => EntryKind.Link,
            _ => EntryKind.Other,
        };
        // As .NET computes LastWriteTimeUtc from stat, so a revision of an earlier version (size and ticks) still matches.
        var ticks = DateTime.UnixEpoch.Ticks + buffer.MtimeSec * TimeSpan.TicksPerSecond + buffer.MtimeNsec / 100;
        stat = new EntryStat(kind, (long)buffer.Size, ticks, (int)(buffer.MtimeNsec % 100), buffer.Ino,
            ((ulong)buffer.DevMajor << 32) | buffer.DevMinor, buffer.Mode, (buffer.Mask & StatxMntId) != 0 ? buffer.MntId : 0);
        if ((buffer.Mask & StatxBlocks) != 0)
            allocatedBytes = (long)Math.Min(buffer.Blocks, long.MaxValue / 512) * 512;
        return true;
    }

    private static EntryStat Managed(string fullPath)
    {
        FileSystemInfo info = new FileInfo(fullPath);
        if (!info.Exists)
        {
            info = new DirectoryInfo(fullPath);
            if (!info.Exists)
                return new EntryStat(EntryKind.Missing, 0, 0, 0, 0, 0);
        }
        var kind = (info.Attributes & FileAttributes.ReparsePoint) != 0 ? EntryKind.Link
            : info is DirectoryInfo ? EntryKind.Directory
            : EntryKind.File;
        return new EntryStat(kind, info is FileInfo file ? file.Length : 0, info.LastWriteTimeUtc.Ticks, 0, 0, 0);
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statx(int dirfd, string path, int flags, uint mask, Statx* buffer);

    // struct statx: the same layout on every architecture (linux/stat.h), 256 bytes.
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct Statx
    {
        [FieldOffset(0)] public uint Mask;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Ino;
        [FieldOffset(40)] public ulong Size;
        [FieldOffset(48)] public ulong Blocks;
        [FieldOffset(112)] public long MtimeSec;
        [FieldOffset(120)] public uint MtimeNsec;
        [FieldOffset(136)] public uint DevMajor;
        [FieldOffset(140)] public uint DevMinor;
        [FieldOffset(144)] public ulong MntId;
    }
}
