namespace Onitu.Setup;

/// <summary>
/// Reads a setup (the seed's configuration file) from YAML or JSON — JSON is YAML, one parser reads both:
/// <code>
/// name: "My setup"
/// folders:
///   docs:                 # folder options, for every service: mode, type, min-size, max-size, blacklist, whitelist
///     blacklist: ["*.tmp"]
///   music:
///     type: ["audio/*"]
///     max-size: 10MiB
/// services:
///   laptop:
///     driver: local_storage
///     options:            # driver options, validated against the driver's manifest by SetupValidator
///       root: ./laptop
///     folders:
///       docs: docs        # short form: the folder's path on this service
///       music:            # long form: path and this service's folder options
///         path: Music
///         mode: r
///         min-size: 1k
/// </code>
/// A folder mapped without a path (<c>docs:</c> or <c>docs: {}</c>) lives at the folder's name.
/// </summary>
/// <remarks>
/// Every problem found is reported at once in a <see cref="SetupException"/>, each with the file, the line and the key
/// path (such as <c>services.laptop.folders.music.min-size</c>). Driver options are only read here; their
/// validation needs the drivers' manifests (see <c>Onitu.Options.SetupValidator</c>, which also adds the option problems
/// of the services it could read to those of a setup that failed to load, so that every problem is reported at once).
/// </remarks>
public static class SetupLoader
{
    /// <summary>
    /// The largest setup read: 16 MiB (16,777,216 bytes of a file; as many characters of a text). Real setups are a
    /// few kilobytes, and 10,000 blacklist globs about 250 KB; a bigger file is almost surely not a setup (a log, a
    /// dump) and would hold the process for a long while, so it is refused before it is parsed.
    /// </summary>
    public const int MaxSetupSize = 16 * 1024 * 1024;

    /// <summary>Reads the setup file at <paramref name="path"/>; relative paths in it are relative to its directory.</summary>
    /// <exception cref="SetupException">The file is missing, unreadable, larger than <see cref="MaxSetupSize"/> or not a valid setup.</exception>
    public static OnituSetup LoadFile(string path) => LoadFile(path, CancellationToken.None);

    /// <summary>
    /// Reads the setup file at <paramref name="path"/>, stopping with <see cref="OperationCanceledException"/> as soon
    /// as <paramref name="cancellationToken"/> is cancelled (a Ctrl+C while a large setup loads).
    /// </summary>
    /// <inheritdoc cref="LoadFile(string)"/>
    public static OnituSetup LoadFile(string path, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string text;
        try
        {
            text = ReadBounded(path, cancellationToken);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new SetupException([new SetupError(path, null, null, $"the setup file '{Path.GetFullPath(path)}' does not exist")], e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new SetupException([new SetupError(path, null, null, $"the setup file '{Path.GetFullPath(path)}' cannot be read: {e.Message}")], e);
        }
        return Parse(text, path, Path.GetDirectoryName(Path.GetFullPath(path)), cancellationToken);
    }

    /// <summary>Reads a setup from YAML or JSON text.</summary>
    /// <param name="text">The setup.</param>
    /// <param name="sourceFile">The file name to show in errors, if the text came from one.</param>
    /// <param name="baseDirectory">The directory relative paths are relative to (default: the directory of
    /// <paramref name="sourceFile"/> if given, else the current directory).</param>
    /// <exception cref="SetupException">The text is not a valid setup, or longer than <see cref="MaxSetupSize"/>.</exception>
    public static OnituSetup Parse(string text, string? sourceFile = null, string? baseDirectory = null) =>
        Parse(text, sourceFile, baseDirectory, CancellationToken.None);

    /// <summary>Reads a setup from YAML or JSON text, stopping with <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/> is cancelled.</summary>
    /// <inheritdoc cref="Parse(string, string?, string?)"/>
    public static OnituSetup Parse(string text, string? sourceFile, string? baseDirectory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > MaxSetupSize)
            throw TooLarge(sourceFile, $"{text.Length:N0} characters");
        cancellationToken.ThrowIfCancellationRequested();
        return new SetupReader(sourceFile, cancellationToken).Read(text, baseDirectory);
    }

    /// <summary>Reads the file's text, refusing it as soon as it is known to exceed <see cref="MaxSetupSize"/> (a pipe has no length to check first).</summary>
    private static string ReadBounded(string path, CancellationToken cancellationToken)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.SequentialScan);
        if (stream.CanSeek && stream.Length > MaxSetupSize)
            throw TooLarge(path, $"{stream.Length:N0} bytes");
        using var reader = new StreamReader(stream, detectEncodingFromByteOrderMarks: true);
        var text = new System.Text.StringBuilder(stream.CanSeek ? (int)stream.Length : 4096);
        var buffer = new char[64 * 1024];
        int read;
        while ((read = reader.Read(buffer, 0, buffer.Length)) > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            text.Append(buffer, 0, read);
            if (text.Length > MaxSetupSize)
                throw TooLarge(path, $"more than {MaxSetupSize:N0} characters");
        }
        return text.ToString();
    }

    private static SetupException TooLarge(string? file, string size) =>
        new([new SetupError(file, null, null,
            $"the setup{(file is null ? "" : $" file '{Path.GetFullPath(file)}'")} is too large ({size}): setups are limited to " +
            $"{MaxSetupSize / (1024 * 1024)} MiB ({MaxSetupSize:N0} bytes); is it the right file?")]);
}
