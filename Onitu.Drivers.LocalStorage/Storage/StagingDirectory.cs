namespace Onitu.Drivers.LocalStorage;

/// <summary>
/// A folder's staging directory (see <see cref="TempFiles"/>) held open on Linux (<c>O_PATH | O_DIRECTORY |
/// O_NOFOLLOW</c>) for the driver's lifetime: uploads create, rename and remove their temporary files relative to its
/// descriptor (<see cref="StagedFile"/>), so a write neither looks at the directory nor walks to it
/// again, and a link put in its place is never followed, even in the instant between a look and a creation — what
/// is created goes into the directory that was opened, wherever it is by then. A directory removed since it was
/// opened is found at the next creation (<c>ENOENT</c>) and made again; one renamed away (and maybe replaced) is
/// found by a look at its path at most every <see cref="RecheckInterval"/>, and until then still receives the
/// temporary files, which its descriptor renames into place as before. With that look the mounts below the folder are
/// read again (<see cref="Mounts"/>): where there is none, a write need not look at its target's directory to know
/// the rename from here stays on one mount. It is closed once no write used it for <see cref="IdleRelease"/>: an open
/// descriptor keeps its file system mounted ("target is busy"), and a user must be able to unmount a disk while
/// <c>onitu run</c> idles (the driver then finds the folder lost).
/// </summary>
internal sealed class StagingDirectory(StorageFolder folder) : IDisposable
{
    private readonly Lock _lock = new();
    private AnchoredPaths.DirectoryHandle? _handle;
    private EntryStat _opened;
    private bool _mountsBelow = true;
    private long _checkedAt;
    private bool _disposed;
    private long _usedAt;
    private Timer? _idleTimer;

    /// <summary>Whether staging directories are held open here: the anchored calls and <c>statx</c> answer (Linux).</summary>
    public static bool IsSupported => AnchoredPaths.IsAvailable && NativeStat.HasInodes;

    /// <summary>The directory's full path.</summary>
    public string FullPath => folder.StagingDirectory;

    /// <summary>
    /// How long the held directory is used without looking whether its path still leads to it: a look per write cost a
    /// system call per file. Zero looks at every write (tests).
    /// </summary>
    internal TimeSpan RecheckInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long the directory stays open without a write: long enough that a run of writes opens it once (opening it
    /// again costs an open, a stat and a read of the mounts), short enough that an idle disk can be unmounted.
    /// </summary>
    internal TimeSpan IdleRelease { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Whether the directory is held open now (tests).</summary>
    internal bool IsHeld
    {
        get
        {
            lock (_lock)
                return _handle is not null;
        }
    }

    /// <summary>
    /// A lease on the open staging directory, which is opened (and made in the folder's directory when missing) as
    /// needed; null when there is none to use: a link or a file holds its name (the write is then staged beside its
    /// target, as when the directory cannot be made).
    /// </summary>
    /// <exception cref="IOException">The directory cannot be looked at, opened or made.</exception>
    /// <exception cref="FolderMissingException">
    /// Opening it, the folder's directory was found missing, not the one the scan found, or without its marker.
    /// </exception>
    public Lease? Acquire()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_handle is not null && Environment.TickCount64 - _checkedAt >= (long)RecheckInterval.TotalMilliseconds && !StillAtItsPath())
                DropLocked();
            if (_handle is null && !OpenLocked())
                return null;
            _usedAt = Environment.TickCount64;
            return new Lease(_handle!, _opened, _mountsBelow);
        }
    }

    /// <summary>
    /// After a creation in the directory of <paramref name="stale"/> found it removed: forgets that directory (unless
    /// another write did already) and returns a lease on the one made anew, or null as <see cref="Acquire"/>.
    /// </summary>
    /// <exception cref="IOException">The directory cannot be made again.</exception>
    public Lease? Reopen(Lease stale)
    {
        lock (_lock)
        {
            if (ReferenceEquals(_handle, stale.Handle))
                DropLocked();
        }
        return Acquire();
    }

    /// <summary>
    /// After a rename from the directory was refused as crossing mounts: something was mounted in the folder since the
    /// mounts were read, which the next <see cref="Acquire"/> reads again.
    /// </summary>
    public void MountsChanged()
    {
        lock (_lock)
        {
            _mountsBelow = true;
            _checkedAt = long.MinValue / 2;
        }
    }

    /// <summary>Closes the directory once no write uses it any more.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            DropLocked();
            _idleTimer?.Dispose();
            _idleTimer = null;
        }
    }

    // The timer runs while the directory is held; a lease still in use keeps the descriptor open until it is released
    // (DropLocked), and the next write opens the directory again, looking at the folder's directory as the first did.
    private void ReleaseIfIdle()
    {
        lock (_lock)
        {
            if (_handle is null || _disposed || Environment.TickCount64 - _usedAt < (long)IdleRelease.TotalMilliseconds)
                return;
            DropLocked();
            _idleTimer?.Change(Timeout.Infinite, Timeout.Infinite);
        }
    }

    private bool StillAtItsPath()
    {
        var now = NativeStat.LStat(FullPath);
        _checkedAt = Environment.TickCount64;
        if (now.Kind != EntryKind.Directory || now.Inode != _opened.Inode || !now.SameMount(_opened))
            return false;
        // Read again as often as the path is looked at: a disk mounted in the folder since is known within that time
        // (a write into it meanwhile is refused by the rename, and retried).
        _mountsBelow = Mounts.AnyBelowParentOf(_handle!.Fd);
        return true;
    }

    private bool OpenLocked()
    {
        // Opened (again) at the first write, and when the one held is gone or moved: the moment to look whether the
        // folder's directory is still the one the scan found, with its marker. A bare mount point (the disk unmounted
        // before this service wrote anything) or a directory put in the folder's place gets no staging directory, and
        // so no write.
        folder.Root.Check();
        var handle = AnchoredPaths.OpenDirectory(FullPath, out var missing);
        if (handle is null && missing)
        {
            // Made in the folder's directory, never with it (FolderMissingException when it is gone); a link or file put
            // there meanwhile is left alone, and the open below refuses it.
            folder.MakeDirectory(FullPath);
            handle = AnchoredPaths.OpenDirectory(FullPath, out _);
        }
        if (handle is null)
            return false;
        try
        {
            _opened = NativeStat.FStat(handle.Fd, FullPath);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
        _handle = handle;
        // The staging directory's parent is the folder's directory.
        _mountsBelow = Mounts.AnyBelowParentOf(handle.Fd);
        _checkedAt = Environment.TickCount64;
        var period = IdleRelease;
        _idleTimer ??= new Timer(_ => ReleaseIfIdle());
        _idleTimer.Change(period, period);
        return true;
    }

    private void DropLocked()
    {
        // Closed by the handle once the last lease on it is released: a descriptor number is never reused under a write.
        _handle?.Dispose();
        _handle = null;
    }

    /// <summary>One write's use of the held directory: its descriptor stays open until the lease is disposed.</summary>
    internal sealed class Lease : IDisposable
    {
        private int _released;

        public Lease(AnchoredPaths.DirectoryHandle handle, EntryStat opened, bool mountsBelow)
        {
            var added = false;
            handle.DangerousAddRef(ref added);
            Handle = handle;
            Opened = opened;
            MountsBelowFolder = mountsBelow;
        }

        /// <summary>The directory's handle (compared by <see cref="Reopen"/>).</summary>
        public AnchoredPaths.DirectoryHandle Handle { get; }

        /// <summary>The descriptor of the directory.</summary>
        public int Fd => Handle.Fd;

        /// <summary>What the directory was when it was opened: its file system and mount among others.</summary>
        public EntryStat Opened { get; }

        /// <summary>
        /// Whether anything is mounted below the folder's directory: only then may a target's directory be on another
        /// mount than the staging directory, and need a look.
        /// </summary>
        public bool MountsBelowFolder { get; }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
                Handle.DangerousRelease();
        }
    }
}
