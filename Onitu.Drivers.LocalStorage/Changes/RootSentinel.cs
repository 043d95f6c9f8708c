using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// While the driver watches, looks after each folder's directory itself, which the file system watcher does not: .NET's
/// watcher says nothing when the directory it watches is moved away, deleted, or unmounted (it drops the kernel's
/// <c>IN_MOVE_SELF</c>, <c>IN_DELETE_SELF</c>, <c>IN_UNMOUNT</c> and <c>IN_IGNORED</c>), and unmounting a bind mount
/// above it raises nothing at all: the watches stay on the directories of the disk, now hidden, and keep reporting
/// their changes under the old paths. So a thread waits on three things and then looks at every folder
/// (<see cref="FolderRoot.IsLostNow"/>: its directory there, the one the scan found, with its marker): the kernel's
/// table of mounts changing (<c>/proc/self/mountinfo</c> polled for <c>POLLPRI</c>, as systemd does), an inotify
/// watch of each folder's directory (the directory deleted or moved, an entry deleted or moved out of it: the marker),
/// and, since neither sees a directory above a folder renamed or a link to it changed, one second passing. A folder
/// found lost refuses writes at once (<see cref="FolderRoot.ThrowIfLost"/>) and is reported to the watcher's loop
/// (<see cref="ChangeKind.FolderLost"/>), which fails the watch before reporting anything of it.
/// </summary>
internal sealed partial class RootSentinel : IDisposable
{
    private const int ORdOnly = 0, OCloexec = 0x80000, ONonBlock = 0x800;
    private const short PollIn = 1, PollPri = 2;
    private const uint InMovedFrom = 0x40, InDelete = 0x200, InDeleteSelf = 0x400, InMoveSelf = 0x800, InOnlyDir = 0x1000000;
    private const int EINTR = 4;

    /// <summary>How long the sentinel waits, when nothing wakes it, before it looks at the folders again.</summary>
    internal static TimeSpan Period { get; } = TimeSpan.FromSeconds(1);

    private readonly IReadOnlyList<StorageFolder> _folders;
    private readonly Action<StorageFolder> _lost;
    private readonly ILogger _logger;
    private volatile bool _stopped;

    /// <param name="folders">The folders to look after.</param>
    /// <param name="lost">Called once for a folder found lost.</param>
    /// <param name="logger">Where a sentinel that cannot use the kernel's notifications says so (debug).</param>
    public RootSentinel(IReadOnlyList<StorageFolder> folders, Action<StorageFolder> lost, ILogger logger)
    {
        _folders = folders;
        _lost = lost;
        _logger = logger;
        var thread = new Thread(Run) { IsBackground = true, Name = "onitu folder sentinel" };
        thread.Start();
    }

    /// <summary>Stops looking; the thread ends at its next wake (at most <see cref="Period"/>), closing its descriptors.</summary>
    public void Dispose() => _stopped = true;

    private void Run()
    {
        var (mounts, notify) = OpenNotifications();
        try
        {
            var reported = new HashSet<StorageFolder>();
            while (!_stopped)
            {
                Wait(mounts, notify);
                if (_stopped)
                    break;
                foreach (var folder in _folders)
                {
                    if (!reported.Contains(folder) && folder.Root.IsLostNow())
                    {
                        reported.Add(folder);
                        _lost(folder);
                    }
                }
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A sentinel that fails leaves the folders to the writes' own checks and the watcher's batches.
            Log.SentinelFailed(_logger, e);
        }
        finally
        {
            if (mounts >= 0)
                close(mounts);
            if (notify >= 0)
                close(notify);
        }
    }

    private (int Mounts, int Notify) OpenNotifications()
    {
        if (!OperatingSystem.IsLinux() || AnchoredPaths.Flags is null)
            return (-1, -1);
        int mounts = -1, notify = -1;
        try
        {
            mounts = open("/proc/self/mountinfo", ORdOnly | OCloexec);
            notify = inotify_init1(ONonBlock | OCloexec);
            if (notify >= 0)
            {
                foreach (var folder in _folders)
                {
                    // A directory missing already is found by the first look.
                    inotify_add_watch(notify, folder.Directory, InDeleteSelf | InMoveSelf | InDelete | InMovedFrom | InOnlyDir);
                }
            }
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
        }
        if (mounts < 0 || notify < 0)
            Log.SentinelPolls(_logger, Period);
        return (mounts, notify);
    }

    // Returns when a notification came or the period passed.
    private unsafe void Wait(int mounts, int notify)
    {
        if (mounts < 0 && notify < 0)
        {
            Thread.Sleep(Period);
            return;
        }
        var fds = stackalloc PollFd[2];
        var count = 0;
        if (mounts >= 0)
            fds[count++] = new PollFd { Fd = mounts, Events = PollPri };
        if (notify >= 0)
            fds[count++] = new PollFd { Fd = notify, Events = PollIn };
        if (poll(fds, (nuint)count, (int)Period.TotalMilliseconds) < 0 && Marshal.GetLastPInvokeError() != EINTR)
        {
            Thread.Sleep(Period);
            return;
        }
        if (notify >= 0)
        {
            // Drained: what the events were does not matter, every folder is looked at.
            var buffer = stackalloc byte[4096];
            while (read(notify, buffer, 4096) > 0)
            {
            }
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string pathname, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int inotify_init1(int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int inotify_add_watch(int fd, string pathname, uint mask);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int poll(PollFd* fds, nuint nfds, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint read(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
