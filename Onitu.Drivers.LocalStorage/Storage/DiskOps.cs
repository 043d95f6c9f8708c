namespace Onitu.Drivers.LocalStorage;

/// <summary>The disk operations the handlers share, and how their failures become the contract's exceptions.</summary>
internal static class DiskOps
{
    /// <summary>
    /// Runs <paramref name="create"/>, creating the parent directory of <paramref name="path"/> with
    /// <paramref name="makeDirectory"/> when it is missing (<see cref="StorageFolder.MakeDirectory"/>, which never makes a
    /// folder's own directory). Retried because a concurrent deletion may remove the directory again while it is still
    /// empty.
    /// </summary>
    public static T WithDirectory<T>(string path, Func<T> create, Action<string> makeDirectory)
    {
        var directory = Path.GetDirectoryName(path)!;
        // Tried first, the directory made only when missing: almost every write goes to an existing directory (the
        // staging directory, a known one), and creating it first cost a failing mkdir per call, two per file copied.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return create();
            }
            // The directory can vanish between its creation and the open (a concurrent deletion removing emptied
            // directories). .NET reports that ENOENT as FileNotFoundException when the directory is back by the
            // time it looks, so both mean "create it and try again".
            catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException && attempt < 6)
            {
                makeDirectory(directory);
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="create"/>, which must create <paramref name="path"/> as a new file (<see cref="FileMode.CreateNew"/>);
    /// when a file of that name is left over (an earlier attempt's temporary file), removes it and tries once more. A
    /// missing directory is made with <paramref name="makeDirectory"/> (see <see cref="WithDirectory"/>).
    /// </summary>
    /// <remarks>
    /// A temporary file is always made anew, never truncated: ext4 takes a truncation to zero (what
    /// <see cref="FileMode.Create"/> does, as <c>open</c> then <c>ftruncate</c>) for an application rewriting a file in
    /// place, and writes the whole file back when it is closed (measured: 0.3 s more for a 1 GiB copy). The rename that
    /// publishes the file, and the <c>fsync</c> option, keep their guarantees without it.
    /// </remarks>
    public static T CreateFresh<T>(string path, Func<T> create, Action<string> makeDirectory)
    {
        try
        {
            return WithDirectory(path, create, makeDirectory);
        }
        catch (IOException e) when (IsAlreadyExists(e))
        {
            File.Delete(path);
            return WithDirectory(path, create, makeDirectory);
        }
    }

    // EEXIST (17 on Linux and macOS, where .NET puts the errno in HResult); ERROR_FILE_EXISTS and ERROR_ALREADY_EXISTS on Windows.
    private static bool IsAlreadyExists(IOException e) =>
        e.HResult is 17 or unchecked((int)0x80070050) or unchecked((int)0x800700B7);

    public static void FlushToDisk(string path)
    {
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 0);
            file.Flush(flushToDisk: true);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new UploadNotResumableException($"The partial upload {path} is gone.", e);
        }
    }

    public static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (IsIoError(e))
        {
            // Best effort: a leftover temporary file is hidden, never reported, and reused by the next upload.
        }
    }

    public static bool IsIoError(Exception e) => e is IOException or UnauthorizedAccessException;

    // ENOSPC (28 on Linux and macOS, where .NET puts the errno in HResult); ERROR_DISK_FULL and ERROR_HANDLE_DISK_FULL on Windows.
    public static bool IsDiskFull(IOException e) =>
        e.HResult is 28 or unchecked((int)0x80070070) or unchecked((int)0x80070027);

    public static ServiceException ReadError(Exception e, Metadata metadata, string fullPath) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => new RemoteFileNotFoundException($"{metadata} is not on disk ({fullPath}).", e),
        UnauthorizedAccessException when Directory.Exists(fullPath) => new RemoteFileNotFoundException($"{metadata} is a directory on disk ({fullPath}).", e),
        _ => WriteError(e, "read", metadata),
    };

    public static ServiceException WriteError(Exception e, string action, Metadata metadata) => e switch
    {
        UnauthorizedAccessException => new ServiceException($"Permission denied to {action} {metadata}: {e.Message}", isTransient: false, e),
        _ => new ServiceException($"Could not {action} {metadata}: {e.Message}", isTransient: true, e),
    };
}
