using Onitu.Rules;

namespace Onitu.Setup;

/// <summary>A folder as one service maps it: where it lives on the service's store and the service's rules for it.</summary>
public sealed class ServiceFolderSetup
{
    /// <summary>Creates a folder mapping.</summary>
    /// <param name="folder">The folder's name, declared under <c>folders</c>.</param>
    /// <param name="path">Where the folder lives on the store, as written (the driver resolves it).</param>
    /// <param name="rules">The service's folder options for this folder (not merged with the folder's own).</param>
    /// <param name="line">The line of the mapping in the setup file, or 0.</param>
    public ServiceFolderSetup(string folder, string path, FolderRules? rules = null, int line = 0)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentException.ThrowIfNullOrEmpty(path);
        Folder = folder;
        Path = path;
        Rules = rules ?? FolderRules.Empty;
        Line = line;
    }

    /// <summary>The folder's name.</summary>
    public string Folder { get; }

    /// <summary>Where the folder lives on the service's store (the folder name when the setup gives no path).</summary>
    public string Path { get; }

    /// <summary>The options written for this folder on this service; see <see cref="FolderRules.MergeWith"/> for the effective rules.</summary>
    public FolderRules Rules { get; }

    /// <summary>The 1-based line of the mapping in the setup file, or 0 when unknown.</summary>
    public int Line { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Folder} -> {Path} {Rules}";
}
