namespace Onitu.Testing;

/// <summary>
/// An independent view of the driver under test's store: another way to read and change the files of the test folder
/// than the driver itself (the directory on disk, the bucket through the vendor's SDK, the server through another
/// client). When a <see cref="DriverTestArea"/> has one, the kit checks what the driver wrote through it — a driver
/// whose reads undo its own write bugs cannot pass — and makes its "another client changed the file" edits through it.
/// </summary>
/// <remarks>
/// Paths are relative to the test folder, <c>/</c>-separated, as in <see cref="Metadata.Path"/>. A store that
/// transforms content (compresses, encrypts) gives the view that decodes it: the view shows what a user would read.
/// </remarks>
public interface IStoreView
{
    /// <summary>Reads a whole file, or <see langword="null"/> when it is not there.</summary>
    /// <param name="path">The path in the test folder.</param>
    /// <param name="cancellationToken">The test's cancellation.</param>
    ValueTask<byte[]?> ReadAsync(string path, CancellationToken cancellationToken);

    /// <summary>Creates or replaces a file, creating its directories, as another client of the store would.</summary>
    /// <param name="path">The path in the test folder.</param>
    /// <param name="content">The new content.</param>
    /// <param name="cancellationToken">The test's cancellation.</param>
    ValueTask WriteAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken);
}

/// <summary>An <see cref="IStoreView"/> over a local directory: for drivers that store files as plain files on disk.</summary>
/// <param name="directory">The directory the test folder maps to.</param>
public sealed class DirectoryStoreView(string directory) : IStoreView
{
    /// <summary>The directory the test folder maps to.</summary>
    public string Directory { get; } = directory ?? throw new ArgumentNullException(nameof(directory));

    /// <inheritdoc />
    public async ValueTask<byte[]?> ReadAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            return await File.ReadAllBytesAsync(FullPath(path), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <inheritdoc />
    public async ValueTask WriteAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        var full = FullPath(path);
        System.IO.Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        var file = new FileStream(full, FileMode.Create, FileAccess.Write, FileShare.Read);
        await using var disposeFile = file.ConfigureAwait(false);
        await file.WriteAsync(content, cancellationToken).ConfigureAwait(false);
    }

    private string FullPath(string path) => System.IO.Path.Combine(Directory, FilePath.Normalize(path));
}
