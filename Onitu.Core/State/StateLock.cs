using System.Globalization;
using System.Text;

namespace Onitu.State;

/// <summary>
/// The exclusive hold one engine takes on its state database: two engines writing one database would each act on
/// state the other is changing (duplicate transfers, spurious conflict copies). The lock is the operating system's
/// (an exclusive open of <c>&lt;database&gt;.lock</c>: <c>flock</c> on Unix, a share-none handle on Windows), so a
/// process that dies, even by <c>kill -9</c>, releases it and the next engine simply takes it over. Who holds it is
/// written beside it (<c>&lt;database&gt;.lock.owner</c>) for the error message only.
/// </summary>
internal sealed class StateLock : IDisposable
{
    private readonly FileStream _handle;
    private readonly string _ownerFile;

    private StateLock(FileStream handle, string ownerFile)
    {
        _handle = handle;
        _ownerFile = ownerFile;
    }

    /// <summary>Takes the lock of <paramref name="databasePath"/>.</summary>
    /// <exception cref="OnituException">Another engine holds it; the message names the database and the holder.</exception>
    public static StateLock Acquire(string databasePath)
    {
        var lockFile = databasePath + ".lock";
        var ownerFile = lockFile + ".owner";
        FileStream handle;
        try
        {
            handle = new FileStream(lockFile, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
        }
        catch (IOException)
        {
            throw new OnituException(
                $"The state database '{databasePath}' is in use by another Onitu engine ({DescribeOwner(ownerFile)}). " +
                "Stop that one first, or give this one its own database (--db).");
        }

        var owner = string.Create(CultureInfo.InvariantCulture,
            $"PID {Environment.ProcessId} on host {Environment.MachineName}, since {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm:ss} UTC");
        try
        {
            var temporary = ownerFile + "." + Environment.ProcessId + ".tmp";
            File.WriteAllText(temporary, owner, Encoding.UTF8);
            File.Move(temporary, ownerFile, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The owner note only improves another engine's error message; the lock itself is held.
        }
        return new StateLock(handle, ownerFile);
    }

    private static string DescribeOwner(string ownerFile)
    {
        try
        {
            var text = File.ReadAllText(ownerFile, Encoding.UTF8).Trim();
            return text.Length == 0 ? "holder unknown" : text;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "holder unknown";
        }
    }

    public void Dispose()
    {
        try
        {
            File.Delete(_ownerFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Harmless: the next holder overwrites it.
        }
        _handle.Dispose();
    }
}
