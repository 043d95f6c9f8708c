using System.Security.Cryptography;

namespace Onitu.Drivers.LocalStorage.Tests;

/// <summary>
/// A fresh directory per test with two folders mapped, "docs" (in docs/) and "pics" (in pictures/), a
/// <see cref="RecordingPlug"/>, and drivers that are disposed when the test ends.
/// </summary>
public abstract class DriverTestBase
{
    private readonly List<LocalStorageDriver> _drivers = [];
    private readonly List<(CancellationTokenSource Stop, Task Watching)> _watches = [];

    protected string Root { get; private set; } = null!;
    protected RecordingPlug Plug { get; set; } = null!;
    protected string DocsDir => Path.Combine(Root, "docs");
    protected string PicsDir => Path.Combine(Root, "pictures");
    protected static CancellationToken Token => TestContext.CurrentContext.CancellationToken;

    [SetUp]
    public void CreateRoot()
    {
        Root = Path.Combine(Path.GetTempPath(), "onitu-local-storage-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
        // The folders' directories, as a scan makes them: a write never makes a folder's own directory.
        Directory.CreateDirectory(DocsDir);
        Directory.CreateDirectory(PicsDir);
        Plug = CreatePlug();
    }

    [TearDown]
    public async Task CleanUp()
    {
        foreach (var (stop, watching) in _watches)
        {
            await stop.CancelAsync();
            await watching.WaitAsync(RecordingPlug.Timeout).ContinueWith(_ => { }, TaskScheduler.Default);
            stop.Dispose();
        }
        _watches.Clear();
        foreach (var driver in _drivers)
            await driver.DisposeAsync();
        _drivers.Clear();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is not worth failing a test for.
        }
    }

    protected RecordingPlug CreatePlug(IReadOnlyDictionary<string, object?>? options = null) =>
        new(Root, [new FolderMapping("docs", "docs"), new FolderMapping("pics", "pictures")], options);

    protected LocalStorageDriver CreateDriver()
    {
        var driver = (LocalStorageDriver)new LocalStorageDriverFactory().Create(Plug);
        _drivers.Add(driver);
        return driver;
    }

    /// <summary>Scans (which starts the watchers), then watches in the background until the test ends.</summary>
    protected async Task<LocalStorageDriver> StartWatchingAsync()
    {
        var driver = CreateDriver();
        await driver.ScanAsync(Token);
        var stop = new CancellationTokenSource();
        _watches.Add((stop, Task.Run(() => driver.WatchAsync(stop.Token))));
        return driver;
    }

    /// <summary>The background watch task of the last driver started with <see cref="StartWatchingAsync"/>.</summary>
    protected Task LastWatch => _watches[^1].Watching;

    /// <summary>
    /// Returns once every change made to <paramref name="folderDir"/> before the call was processed by the watcher:
    /// a sentinel file is reported only after what was queued before it, and a second sentinel only after the
    /// batch of the first was finished.
    /// </summary>
    protected async Task SettleAsync(string folderDir)
    {
        for (var i = 0; i < 2; i++)
        {
            var name = $"zz-settle-{Guid.NewGuid():N}.txt";
            var mark = Plug.CallCount;
            await File.WriteAllTextAsync(Path.Combine(folderDir, name), "settle", Token);
            await Plug.WaitForAsync(c => c.Kind == CallKind.Update && c.File.Path == name, mark);
        }
    }

    protected static string Write(string fullPath, string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
        File.WriteAllText(fullPath, content);
        return fullPath;
    }

    protected static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>The revision the driver gives the file on disk now (see <see cref="RevisionTests"/> for its form).</summary>
    protected static string DiskRevision(string fullPath) =>
        FileState.TryRead(fullPath)?.Revision ?? throw new AssertionException($"{fullPath} is not a file");

    protected static string Hash(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes));

    /// <summary>The driver's temporary files under <paramref name="directory"/>: in staging directories, and beside targets (old naming).</summary>
    protected static string[] TempFilesIn(string directory) =>
        Directory.Exists(directory)
            ? [.. Directory.GetFiles(directory, "*", SearchOption.AllDirectories)
                .Where(f => TempFiles.IsTempName(Path.GetFileName(f)) || Path.GetFileName(Path.GetDirectoryName(f)) == TempFiles.StagingDirectoryName)]
            : [];

    protected static Metadata Meta(string folder, string path, string? revision = null) => new(folder, path) { Revision = revision };
}
