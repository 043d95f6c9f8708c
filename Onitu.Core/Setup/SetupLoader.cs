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
/// validation needs the drivers' manifests (see <c>Onitu.Options.SetupValidator</c>).
/// </remarks>
public static class SetupLoader
{
    /// <summary>Reads the setup file at <paramref name="path"/>; relative paths in it are relative to its directory.</summary>
    /// <exception cref="SetupException">The file is missing, unreadable or not a valid setup.</exception>
    public static OnituSetup LoadFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new SetupException([new SetupError(path, null, null, $"the setup file '{Path.GetFullPath(path)}' does not exist")], e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new SetupException([new SetupError(path, null, null, $"the setup file '{Path.GetFullPath(path)}' cannot be read: {e.Message}")], e);
        }
        return Parse(text, path, Path.GetDirectoryName(Path.GetFullPath(path)));
    }

    /// <summary>Reads a setup from YAML or JSON text.</summary>
    /// <param name="text">The setup.</param>
    /// <param name="sourceFile">The file name to show in errors, if the text came from one.</param>
    /// <param name="baseDirectory">The directory relative paths are relative to (default: the directory of
    /// <paramref name="sourceFile"/> if given, else the current directory).</param>
    /// <exception cref="SetupException">The text is not a valid setup.</exception>
    public static OnituSetup Parse(string text, string? sourceFile = null, string? baseDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new SetupReader(sourceFile).Read(text, baseDirectory);
    }
}
