using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Onitu.Drivers.LocalStorage;

/// <summary>A symbolic link found on the way from a folder's directory to an entry the driver was about to change.</summary>
/// <param name="link">The full path of the link.</param>
internal sealed class LinkOnPathException(string link) : IOException($"{link} is a symbolic link")
{
    /// <summary>The full path of the link.</summary>
    public string Link { get; } = link;
}

/// <summary>
/// Renames and deletions that cannot be carried through a symbolic link, even one that appears after the driver
/// looked (<see cref="StorageFolder.FindLink"/>). On Linux the parent directory of the entry is opened one component
/// at a time from the folder's directory with <c>O_NOFOLLOW | O_DIRECTORY</c> (a component that is a link fails to
/// open), missing directories are created relative to their opened parent (<c>mkdirat</c>), and the entry is renamed
/// or removed relative to that parent (<c>renameat</c>, <c>unlinkat</c>): what the kernel changes is in the directory
/// the walk opened, whatever happens to the path meanwhile. The same calls let a directory be held open and entries be
/// made, looked at, renamed and removed relative to it (<see cref="StagingDirectory"/>, <see cref="StagedFile"/>).
/// Elsewhere, and for an entry outside any folder, the plain path operations are used (the driver's earlier look at
/// every parent is then the only check).
/// </summary>
internal static partial class AnchoredPaths
{
    private const int AtFdCwd = -100, AtRemoveDir = 0x200;
    private const int OPath = 0x200000, OCloexec = 0x80000, OWrOnly = 1, OCreat = 0x40, OExcl = 0x80;
    private const int ENOENT = 2, EEXIST = 17, ENOTDIR = 20, EISDIR = 21, EXDEV = 18, ELOOP = 40, EACCES = 13, EPERM = 1, ENOSYS = 38;

    // O_DIRECTORY and O_NOFOLLOW differ between architectures (asm-generic/fcntl.h against arm's and powerpc's).
    internal static readonly (int Directory, int NoFollow)? Flags = !OperatingSystem.IsLinux() ? null : RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 or Architecture.X86 or Architecture.RiscV64 or Architecture.LoongArch64 or Architecture.S390x => (0x10000, 0x20000),
        Architecture.Arm64 or Architecture.Arm or Architecture.Ppc64le => (0x4000, 0x8000),
        _ => null,
    };

    private static int s_available = Flags is null ? 0 : 1;

    /// <summary>Whether renames and deletions are anchored here (for tests and docs).</summary>
    public static bool IsAvailable => Volatile.Read(ref s_available) == 1;

    /// <summary>
    /// Renames <paramref name="source"/> to <paramref name="destination"/>, replacing a file there, or an empty
    /// directory (one a rename or deletion left behind), and creating the destination's missing parents below its
    /// folder's directory (never that directory: <see cref="FolderMissingException"/>).
    /// </summary>
    /// <param name="sourceFolder">The folder of <paramref name="source"/>.</param>
    /// <param name="source">The full path of the entry renamed.</param>
    /// <param name="destinationFolder">The folder of <paramref name="destination"/>.</param>
    /// <param name="destination">Its new full path.</param>
    /// <param name="parentsChecked">
    /// Whether the caller looked at every parent of <paramref name="destination"/> for links just before
    /// (<see cref="StorageFolder.FindLink"/>); when it did not, relying on the anchored walk, and the rename cannot be
    /// anchored here, they are looked at before the plain rename.
    /// </param>
    /// <exception cref="LinkOnPathException">A parent of either path below its folder's directory is a link.</exception>
    public static void Rename(StorageFolder sourceFolder, string source, StorageFolder destinationFolder, string destination, bool parentsChecked = true)
    {
        // Retried because a concurrent deletion may remove a directory again while it is still empty.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var anchored = IsAvailable && sourceFolder.IsStrictlyInside(source) && destinationFolder.IsStrictlyInside(destination);
                var result = anchored ? TryAnchoredRename(sourceFolder, source, destinationFolder, destination) : AnchoredResult.Unavailable;
                if (result != AnchoredResult.Renamed)
                {
                    // Across file systems the anchored walk has just opened every parent without following links.
                    if (result == AnchoredResult.Unavailable && !parentsChecked
                        && destinationFolder.FindLink(Path.GetDirectoryName(destination)!) is { } link)
                        throw new LinkOnPathException(link);
                    destinationFolder.MakeDirectory(Path.GetDirectoryName(destination)!);
                    PlainRename(source, destination);
                }
                return;
            }
            // .NET reports ENOENT as FileNotFoundException when the directory is back by the time it looks.
            catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException && attempt < 5)
            {
            }
        }
    }

    private enum AnchoredResult
    {
        Renamed,
        Unavailable, // the system refuses the calls: the caller uses the plain paths
        OtherFileSystem, // a copy, which .NET does: the walk has just opened every parent without following links
    }

    private static AnchoredResult TryAnchoredRename(StorageFolder sourceFolder, string source, StorageFolder destinationFolder, string destination)
    {
        using var from = OpenParent(sourceFolder, source, create: false);
        using var to = OpenParent(destinationFolder, destination, create: true);
        if (from is null || to is null)
            return AnchoredResult.Unavailable;
        return RenameAt(from.Fd, from.Name, to, source, destination) ? AnchoredResult.Renamed : AnchoredResult.OtherFileSystem;
    }

    /// <summary>
    /// Renames the entry <paramref name="name"/> of the open directory <paramref name="directoryFd"/> to the entry of
    /// <paramref name="to"/>, replacing a file there or an empty directory; false when the two are on different file
    /// systems (EXDEV: nothing was done).
    /// </summary>
    /// <exception cref="IOException">The rename failed (<see cref="DirectoryNotFoundException"/> when the entry is gone).</exception>
    public static bool RenameAt(int directoryFd, string name, ParentDirectory to, string source, string destination)
    {
        for (var attempt = 0; ; attempt++)
        {
            if (renameat(directoryFd, name, to.Fd, to.Name) == 0)
                return true;
            var errno = Marshal.GetLastPInvokeError();
            if (errno == EISDIR && attempt == 0 && unlinkat(to.Fd, to.Name, AtRemoveDir) == 0)
                continue; // an empty directory gives way to the file; one with entries stays, and the rename fails
            if (errno == EXDEV)
                return false;
            throw Error(errno, $"Cannot rename {source} to {destination}");
        }
    }

    /// <summary>
    /// Opens the directory at <paramref name="fullPath"/> without following a final link (<c>O_PATH | O_DIRECTORY |
    /// O_NOFOLLOW</c>), to name entries relative to it for as long as it is held; null when it is missing
    /// (<paramref name="missing"/> true) or is no directory (a link, a file).
    /// </summary>
    /// <exception cref="IOException">The system refuses the call for another reason.</exception>
    public static DirectoryHandle? OpenDirectory(string fullPath, out bool missing)
    {
        var (directoryFlag, noFollow) = Flags!.Value;
        var fd = OpenAt(AtFdCwd, fullPath, OPath | directoryFlag | noFollow | OCloexec);
        missing = false;
        if (fd >= 0)
            return new DirectoryHandle(fd);
        var errno = Marshal.GetLastPInvokeError();
        if (errno == ENOSYS)
            Volatile.Write(ref s_available, 0);
        missing = errno == ENOENT;
        return errno is ENOENT or ELOOP or ENOTDIR ? null : throw Error(errno, $"Cannot open the directory {fullPath}");
    }

    /// <summary>
    /// Creates the file <paramref name="name"/> in the open directory <paramref name="directoryFd"/>, exclusively and
    /// never through a link (<c>O_CREAT | O_EXCL | O_NOFOLLOW</c>), open for writing; returns its descriptor.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The directory was removed since it was opened.</exception>
    /// <exception cref="IOException">
    /// The file could not be made: an entry of that name exists (<see cref="Exception.HResult"/> EEXIST, as .NET reports
    /// it), the disk is full (ENOSPC)...
    /// </exception>
    public static int CreateFileAt(int directoryFd, string name, uint mode, string fullPathForErrors)
    {
        var fd = OpenAt(directoryFd, name, OWrOnly | OCreat | OExcl | Flags!.Value.NoFollow | OCloexec, (int)mode);
        return fd >= 0 ? fd : throw Error(Marshal.GetLastPInvokeError(), $"Cannot create {fullPathForErrors}");
    }

    /// <summary>
    /// Opens the existing file <paramref name="name"/> of the open directory <paramref name="directoryFd"/> for writing,
    /// never through a link (<c>O_NOFOLLOW</c>: a link of that name fails to open); returns its descriptor.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">It is gone, or the directory was removed.</exception>
    /// <exception cref="IOException">It cannot be opened.</exception>
    public static int OpenFileAt(int directoryFd, string name, string fullPathForErrors)
    {
        var fd = OpenAt(directoryFd, name, OWrOnly | Flags!.Value.NoFollow | OCloexec);
        return fd >= 0 ? fd : throw Error(Marshal.GetLastPInvokeError(), $"Cannot open {fullPathForErrors}");
    }

    /// <summary>Removes the file <paramref name="name"/> of the open directory <paramref name="directoryFd"/>; false when it cannot be (gone already, among others).</summary>
    public static bool TryDeleteAt(int directoryFd, string name) => unlinkat(directoryFd, name, 0) == 0;

    /// <summary>
    /// Opens the directory that is to hold <paramref name="fullPath"/> (made where missing) by the walk without links
    /// that renames use; null when the system refuses the calls.
    /// </summary>
    /// <exception cref="LinkOnPathException">A component on the way is a symbolic link.</exception>
    public static ParentDirectory? OpenParentForWrite(StorageFolder folder, string fullPath) =>
        IsAvailable && folder.IsStrictlyInside(fullPath) ? OpenParent(folder, fullPath, create: true) : null;

    /// <summary>
    /// Makes the directory at <paramref name="fullPath"/>, strictly inside the folder, and its missing parents by the walk
    /// without links (<c>mkdirat</c> in each directory opened): never the folder's directory, nor anything above it.
    /// False when the system refuses the anchored calls (or the path is not inside the folder).
    /// </summary>
    /// <exception cref="FolderMissingException">The folder's directory is missing.</exception>
    /// <exception cref="LinkOnPathException">A component on the way is a symbolic link.</exception>
    public static bool MakeDirectories(StorageFolder folder, string fullPath)
    {
        if (!IsAvailable || !folder.IsStrictlyInside(fullPath))
            return false;
        // The walk opens, making them, every component of the path it is given but the last: here ".", below the directory.
        using var inside = OpenParent(folder, Path.Join(fullPath, "."), create: true);
        return inside is not null;
    }

    /// <summary>Deletes the file at <paramref name="fullPath"/>; a missing file is not an error.</summary>
    /// <exception cref="LinkOnPathException">A parent of the path below the folder's directory is a link.</exception>
    /// <exception cref="FolderMissingException">The folder's directory is missing: its files are not gone, they are elsewhere.</exception>
    public static void Delete(StorageFolder folder, string fullPath)
    {
        if (!IsAvailable || !folder.IsStrictlyInside(fullPath))
        {
            File.Delete(fullPath);
            return;
        }
        ParentDirectory? parent;
        try
        {
            parent = OpenParent(folder, fullPath, create: false);
        }
        catch (DirectoryNotFoundException)
        {
            return; // its directory is gone, and the file with it
        }
        using (parent)
        {
            if (parent is null)
            {
                File.Delete(fullPath);
                return;
            }
            if (unlinkat(parent.Fd, parent.Name, 0) != 0 && Marshal.GetLastPInvokeError() is var errno && errno != ENOENT)
                throw Error(errno, $"Cannot delete {fullPath}");
        }
    }

    /// <summary>
    /// Removes the directory at <paramref name="fullPath"/> if it is empty; false when it is not (or is gone, or is a
    /// link, which is left alone).
    /// </summary>
    /// <exception cref="UnauthorizedAccessException">Removing it is not allowed.</exception>
    public static bool TryRemoveEmptyDirectory(StorageFolder folder, string fullPath)
    {
        if (!IsAvailable || !folder.IsStrictlyInside(fullPath))
        {
            try
            {
                Directory.Delete(fullPath, recursive: false);
                return true;
            }
            catch (IOException)
            {
                return false;
            }
        }
        ParentDirectory? parent;
        try
        {
            parent = OpenParent(folder, fullPath, create: false);
        }
        catch (Exception e) when (e is IOException or FolderMissingException)
        {
            return false; // gone (the folder's directory too), or a link on the way
        }
        using (parent)
        {
            if (parent is null)
                return TryRemoveEmptyDirectory(folder, fullPath);
            if (unlinkat(parent.Fd, parent.Name, AtRemoveDir) == 0)
                return true;
            // ENOTEMPTY, ENOENT, ENOTDIR (a link or a file now): nothing to remove.
            return Marshal.GetLastPInvokeError() is not (EACCES or EPERM)
                ? false
                : throw new UnauthorizedAccessException($"Cannot remove the directory {fullPath}");
        }
    }

    private static void PlainRename(string source, string destination)
    {
        if (Directory.Exists(destination) && !Directory.EnumerateFileSystemEntries(destination).Any())
            Directory.Delete(destination);
        File.Move(source, destination, overwrite: true);
    }

    /// <summary>The opened parent directory of an entry, and the entry's name in it.</summary>
    internal sealed class ParentDirectory(int fd, string name) : IDisposable
    {
        public int Fd { get; private set; } = fd;
        public string Name { get; } = name;

        public void Dispose()
        {
            if (Fd >= 0)
                close(Fd);
            Fd = -1;
        }
    }

    /// <summary>
    /// Opens the directory holding <paramref name="fullPath"/> by walking down from the folder's directory without
    /// following links; null when the system refuses the calls (the caller then uses the plain path).
    /// </summary>
    /// <exception cref="LinkOnPathException">A component on the way is a symbolic link.</exception>
    /// <exception cref="DirectoryNotFoundException">A component is missing and <paramref name="create"/> is false.</exception>
    /// <exception cref="FolderMissingException">The folder's directory is missing (it is never made here).</exception>
    private static ParentDirectory? OpenParent(StorageFolder folder, string fullPath, bool create)
    {
        var (directoryFlag, noFollow) = Flags!.Value;
        var components = fullPath[(Path.EndsInDirectorySeparator(folder.Directory) ? folder.Directory.Length : folder.Directory.Length + 1)..]
            .Split(Path.DirectorySeparatorChar);
        if (components.Length > 1)
        {
            // The folder's directory and the first component below it in one call, resolved as the walk below
            // resolves them: links followed up to the folder's directory, which the setup chose, and not in the
            // component. Anything else than an opened directory (a missing one to create, a link to name) is left
            // to the walk.
            var opened = OpenAt(AtFdCwd, Path.Join(folder.Directory, components[0]), OPath | directoryFlag | noFollow | OCloexec);
            if (opened >= 0)
                return Walk(components, Path.Join(folder.Directory, components[0]), opened, first: 1, create);
        }
        // The folder's directory itself may be a link: the setup chose it.
        var fd = OpenAt(AtFdCwd, folder.Directory, OPath | directoryFlag | OCloexec);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno == ENOSYS)
            {
                Volatile.Write(ref s_available, 0);
                return null;
            }
            // Never made here, even for a write: a folder whose directory is gone (a disk unmounted above it) is lost,
            // and a directory made on the bare mount point would receive what belongs on the disk. Only a scan of a
            // folder the engine knows no file in, and the engine's write of the marker, make it.
            if (errno is ENOENT or ENOTDIR)
                throw folder.Root.Missing();
            throw Error(errno, $"Cannot open {folder.Directory}");
        }
        return Walk(components, folder.Directory, fd, first: 0, create);
    }

    // Opens components[first..^1] from fd (the directory at walked), which it takes over.
    private static ParentDirectory Walk(string[] components, string walked, int fd, int first, bool create)
    {
        var (directoryFlag, noFollow) = Flags!.Value;
        try
        {
            for (var i = first; i < components.Length - 1; i++)
            {
                walked = Path.Join(walked, components[i]);
                var next = OpenAt(fd, components[i], OPath | directoryFlag | noFollow | OCloexec);
                if (next < 0 && Marshal.GetLastPInvokeError() == ENOENT && create)
                {
                    // Made in the directory the walk holds; one made by someone else meanwhile is as good.
                    if (mkdirat(fd, components[i], 0x1FF) != 0 && Marshal.GetLastPInvokeError() is var made && made != EEXIST)
                        throw Error(made, $"Cannot create the directory {walked}");
                    next = OpenAt(fd, components[i], OPath | directoryFlag | noFollow | OCloexec);
                }
                if (next < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    // Not a directory when opened: a link (ELOOP, or ENOTDIR with O_PATH), unless it is a file. One that
                    // is a directory again by now was swapped meanwhile, and counts as the link it was.
                    if (errno is ELOOP or ENOTDIR && NativeStat.LStat(walked).Kind is not (EntryKind.File or EntryKind.Other))
                        throw new LinkOnPathException(walked);
                    throw Error(errno, $"Cannot open the directory {walked}");
                }
                close(fd);
                fd = next;
            }
        }
        catch
        {
            close(fd);
            throw;
        }
        return new ParentDirectory(fd, components[^1]);
    }

    private static int OpenAt(int directoryFd, string path, int flags, int mode = 0)
    {
        try
        {
            return openat(directoryFd, path, flags, mode);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            Marshal.SetLastPInvokeError(ENOSYS);
            return -1;
        }
    }

    // As .NET reports the same errno from its own file calls, so that callers handle both alike (a full disk's
    // HResult is its errno).
    private static Exception Error(int errno, string what)
    {
        var message = $"{what}: {Marshal.GetPInvokeErrorMessage(errno)}";
        return errno switch
        {
            ENOENT => new DirectoryNotFoundException(message),
            EACCES or EPERM => new UnauthorizedAccessException(message),
            _ => new IOException(message, errno),
        };
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int openat(int dirfd, string pathname, int flags, int mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkdirat(int dirfd, string pathname, int mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int renameat(int olddirfd, string oldpath, int newdirfd, string newpath);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int unlinkat(int dirfd, string pathname, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    /// <summary>A directory held open (<c>O_PATH</c>) to name entries relative to it; closed when the last user releases it.</summary>
    internal sealed class DirectoryHandle : SafeHandleMinusOneIsInvalid
    {
        public DirectoryHandle(int fd)
            : base(ownsHandle: true) => SetHandle(fd);

        /// <summary>The descriptor, valid while the handle is held (<see cref="SafeHandle.DangerousAddRef"/>).</summary>
        public int Fd => (int)handle;

        protected override bool ReleaseHandle() => close((int)handle) == 0;
    }
}
