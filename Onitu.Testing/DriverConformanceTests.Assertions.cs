using NUnit.Framework;

namespace Onitu.Testing;

// The reference side (a plain local directory), what the tests assert on both sides, waiting, content, and skipping.
public abstract partial class DriverConformanceTests
{
    /// <summary>The full path of a file of the reference folder.</summary>
    /// <param name="path">The path in the folder.</param>
    protected string ReferencePath(string path) => Path.Combine(ReferenceRoot, FolderName, path);

    /// <summary>Writes a file in the reference folder.</summary>
    /// <param name="path">The path in the folder.</param>
    /// <param name="content">The content.</param>
    protected void WriteReference(string path, byte[] content)
    {
        var full = ReferencePath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllBytes(full, content);
    }

    /// <summary>Reads a file of the reference folder, or null when it is not there.</summary>
    /// <param name="path">The path in the folder.</param>
    protected byte[]? ReadReference(string path)
    {
        try
        {
            return File.ReadAllBytes(ReferencePath(path));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// Fails unless the driver under test holds <paramref name="path"/> with exactly <paramref name="expected"/>, read
    /// through the driver and, when the area has one, through its independent <see cref="DriverTestArea.View"/>.
    /// </summary>
    /// <param name="path">The path in the folder.</param>
    /// <param name="expected">The expected content.</param>
    protected async Task AssertOnSubjectAsync(string path, byte[] expected)
    {
        AssertSameContent(expected, await ReadFromSubjectAsync(path).ConfigureAwait(false), path, $"the driver under test ('{SubjectService}')");
        if (Area.View is { } view)
        {
            AssertSameContent(expected, await view.ReadAsync(path, Cancellation).ConfigureAwait(false), path,
                $"the store of the driver under test, read through the area's independent view ({view.GetType().Name}), though the driver reads it back right");
        }
    }

    /// <summary>
    /// Changes a file of the driver under test as another client of the store would, behind <see cref="Probe"/>'s back:
    /// through the area's <see cref="DriverTestArea.View"/> when it has one, else through a second instance of the
    /// driver. The content given should differ in size from the file's, so that any revision scheme sees the change.
    /// </summary>
    /// <param name="path">The path in the folder.</param>
    /// <param name="content">The new content.</param>
    protected async Task ChangeBehindTheDriverAsync(string path, byte[] content)
    {
        ArgumentNullException.ThrowIfNull(content);
        if (Area.View is { } view)
        {
            await view.WriteAsync(path, content, Cancellation).ConfigureAwait(false);
            return;
        }
        var other = CreateSubjectDriver(CreateSubjectPlug());
        var metadata = ProbePlug.Known(FolderName, path);
        metadata.Size = content.Length;
        metadata.ModifiedAt = DateTimeOffset.UtcNow;
        using var stream = new MemoryStream(content, writable: false);
        await other.UploadFileAsync(metadata, stream, Cancellation).ConfigureAwait(false);
    }

    /// <summary>Fails unless the reference folder holds <paramref name="path"/> with exactly <paramref name="expected"/>.</summary>
    /// <param name="path">The path in the folder.</param>
    /// <param name="expected">The expected content.</param>
    protected void AssertOnReference(string path, byte[] expected) =>
        AssertSameContent(expected, ReadReference(path), path, $"the reference ('{ReferenceService}')");

    /// <summary>Fails when the driver under test still holds <paramref name="path"/>.</summary>
    /// <param name="path">The path in the folder.</param>
    protected async Task AssertAbsentOnSubjectAsync(string path)
    {
        if (await ReadFromSubjectAsync(path).ConfigureAwait(false) is { } content)
            Assert.Fail($"'{path}' is still on the driver under test ('{SubjectService}', {content.Length} bytes); it should be gone.");
    }

    /// <summary>Fails when the reference folder still holds <paramref name="path"/>.</summary>
    /// <param name="path">The path in the folder.</param>
    protected void AssertAbsentOnReference(string path)
    {
        if (ReadReference(path) is { } content)
            Assert.Fail($"'{path}' is still on the reference ('{ReferenceService}', {content.Length} bytes); it should be gone.");
    }

    /// <summary>Fails, saying which file, which side, the sizes and the first differing byte, unless the contents are equal.</summary>
    /// <param name="expected">The expected content.</param>
    /// <param name="actual">The content found, or null when the file is missing.</param>
    /// <param name="path">The file, for the message.</param>
    /// <param name="side">Where it was read, for the message.</param>
    public static void AssertSameContent(byte[] expected, byte[]? actual, string path, string side)
    {
        ArgumentNullException.ThrowIfNull(expected);
        if (Describe(expected, actual) is { } difference)
            Assert.Fail($"'{path}' on {side}: {difference}.");
    }

    /// <summary>Null when equal, else what differs (missing, sizes, first differing byte offset).</summary>
    /// <param name="expected">The expected content.</param>
    /// <param name="actual">The content found, or null when missing.</param>
    public static string? Describe(byte[] expected, byte[]? actual)
    {
        ArgumentNullException.ThrowIfNull(expected);
        if (actual is null)
            return $"missing (expected {expected.Length} bytes)";
        var common = expected.AsSpan().CommonPrefixLength(actual);
        if (common == expected.Length && common == actual.Length)
            return null;
        var sizes = $"expected {expected.Length} bytes, found {actual.Length} bytes";
        return common == Math.Min(expected.Length, actual.Length)
            ? $"{sizes}; the first {common} bytes agree (the {(actual.Length < expected.Length ? "end is missing" : "file has extra bytes")})"
            : $"{sizes}; first differing byte at offset {common} (expected 0x{expected[common]:X2}, found 0x{actual[common]:X2})";
    }

    /// <summary>Waits until <paramref name="condition"/> holds; on timeout fails with <paramref name="what"/> and, if given, the state found.</summary>
    /// <param name="condition">The condition, polled.</param>
    /// <param name="what">What is awaited.</param>
    /// <param name="units">The timeout in time units.</param>
    /// <param name="state">Describes what was found, for the failure message.</param>
    protected async Task EventuallyAsync(Func<Task<bool>> condition, string what, double units = 20, Func<Task<string>>? state = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var deadline = DateTime.UtcNow + Scaled(units);
        while (true)
        {
            try
            {
                if (await condition().ConfigureAwait(false))
                    return;
            }
            catch (IOException)
            {
            }
            if (DateTime.UtcNow > deadline)
            {
                var found = state is null ? "" : "\n" + await state().ConfigureAwait(false);
                var errors = Events.OfType<TransferFailed>().Select(f => $"{f.Service} {f.Folder}:{f.Path}: {f.Error}").Distinct().Take(10).ToList();
                Assert.Fail($"Timed out after {Scaled(units).TotalSeconds} s waiting for: {what}{found}" +
                            (errors.Count == 0 ? "" : "\nTransfer failures:\n  " + string.Join("\n  ", errors)));
            }
            await Task.Delay(50, Cancellation).ConfigureAwait(false);
        }
    }

    /// <summary>Deterministic pseudo-random bytes.</summary>
    /// <param name="size">How many.</param>
    /// <param name="seed">Which.</param>
    public static byte[] Content(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Skips the test unless the driver implements <typeparamref name="T"/>.</summary>
    /// <typeparam name="T">The capability interface.</typeparam>
    /// <param name="driver">The driver.</param>
    protected static T Require<T>(IDriver driver) where T : class
    {
        if (driver is T capable)
            return capable;
        Assert.Ignore($"The driver under test ({driver?.GetType().Name}) does not implement {typeof(T).Name}.");
        return null!;
    }

    /// <summary>Skips the test unless the driver declares change notifications.</summary>
    protected void RequireChangeNotifications()
    {
        if (!Capabilities.ChangeNotifications)
            Assert.Ignore("The driver under test declares no change notifications (DriverCapabilities.ChangeNotifications = false); live tests are skipped.");
    }
}
