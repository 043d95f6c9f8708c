using System.Collections.ObjectModel;

namespace Onitu.Setup;

/// <summary>
/// A service of a setup: a configured driver, its options (not yet validated against the driver's manifest) and the
/// folders it maps.
/// </summary>
public sealed class ServiceSetup
{
    private static readonly IReadOnlyDictionary<string, int> NoLines = ReadOnlyDictionary<string, int>.Empty;

    /// <summary>Creates a service.</summary>
    /// <param name="name">The service's name.</param>
    /// <param name="driver">The driver id (its manifest's <c>id</c>).</param>
    /// <param name="options">The driver options as written: <see cref="string"/>, <see cref="long"/>, <see cref="double"/>,
    /// <see cref="bool"/>, <see langword="null"/>, lists and mappings of those.</param>
    /// <param name="folders">The folders mapped on this service, each at most once.</param>
    /// <param name="line">The line of the service in the setup file, or 0.</param>
    /// <param name="optionLines">The line of each option key, for error messages.</param>
    /// <exception cref="ArgumentException">A folder is mapped twice, or there is no folder.</exception>
    public ServiceSetup(string name, string driver, IReadOnlyDictionary<string, object?> options,
        IReadOnlyList<ServiceFolderSetup> folders, int line = 0, IReadOnlyDictionary<string, int>? optionLines = null)
        : this(name, driver, options, folders, line, optionLines, partial: false)
    {
    }

    /// <summary>
    /// Creates a service; a <paramref name="partial"/> one (what the loader could read of a service of a setup with
    /// problems, for checking its options all the same) may map no folder.
    /// </summary>
    internal ServiceSetup(string name, string driver, IReadOnlyDictionary<string, object?> options,
        IReadOnlyList<ServiceFolderSetup> folders, int line, IReadOnlyDictionary<string, int>? optionLines, bool partial)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(driver);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(folders);
        if (folders.Count == 0 && !partial)
            throw new ArgumentException($"The service '{name}' maps no folder.", nameof(folders));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var folder in folders)
        {
            if (!seen.Add(folder.Folder))
                throw new ArgumentException($"The service '{name}' maps the folder '{folder.Folder}' twice.", nameof(folders));
        }
        Name = name;
        Driver = driver;
        Options = options;
        Folders = folders;
        Line = line;
        OptionLines = optionLines ?? NoLines;
    }

    /// <summary>The service's name, unique in the setup.</summary>
    public string Name { get; }

    /// <summary>The id of the driver the service is an instance of.</summary>
    public string Driver { get; }

    /// <summary>
    /// The driver options as written, in file order. YAML scalars are typed by the YAML 1.2 core schema: integers are
    /// <see cref="long"/>, floats <see cref="double"/>, <c>true</c>/<c>false</c> <see cref="bool"/>, <c>null</c>/<c>~</c>/empty
    /// <see langword="null"/>, quoted scalars and everything else <see cref="string"/>; sequences are
    /// <see cref="IReadOnlyList{T}"/> and mappings <see cref="IReadOnlyDictionary{TKey, TValue}"/> of those.
    /// </summary>
    public IReadOnlyDictionary<string, object?> Options { get; }

    /// <summary>The folders the service maps, in file order.</summary>
    public IReadOnlyList<ServiceFolderSetup> Folders { get; }

    /// <summary>The 1-based line of the service's name in the setup file, or 0 when unknown.</summary>
    public int Line { get; }

    /// <summary>The 1-based line of each option key in the setup file (absent when unknown).</summary>
    public IReadOnlyDictionary<string, int> OptionLines { get; }

    /// <summary>The line of the <c>driver</c> key, or 0 when unknown (then <see cref="Line"/> is the best guess).</summary>
    public int DriverLine { get; init; }

    /// <summary>The line of the <c>options</c> key, or 0 when the setup has none (then <see cref="Line"/> is the best guess).</summary>
    public int OptionsLine { get; init; }

    /// <summary>
    /// The text of the options written as plain YAML scalars, so that a string option given <c>0x1F</c> or
    /// <c>1.10</c> gets what was written rather than the number YAML reads.
    /// </summary>
    internal IReadOnlyDictionary<string, string>? OptionTexts { get; init; }

    /// <summary>
    /// Whether the loader could read the options as written: false when <c>options</c> is not a mapping or one of its
    /// keys is not a name (already reported), so that checking them would only report what follows from that.
    /// </summary>
    internal bool OptionsReadable { get; init; } = true;

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({Driver})";
}
