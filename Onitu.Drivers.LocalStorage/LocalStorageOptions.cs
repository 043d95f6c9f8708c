namespace Onitu.Drivers.LocalStorage;

/// <summary>The options of a local storage service (see manifest.json), read once when the driver is created.</summary>
internal sealed record LocalStorageOptions(string Root, bool Fsync, TimeSpan Debounce)
{
    public const string RootKey = "root";
    public const string FsyncKey = "fsync";
    public const string DebounceKey = "debounce-ms";

    // Past a minute, coalescing stops being a debounce and becomes lost liveness; it is surely a typo. The manifest
    // declares the same bounds.
    internal const long MaxDebounceMilliseconds = 60_000;

    /// <summary>Reads the options, refusing them as <see cref="Check"/> does.</summary>
    /// <exception cref="DriverException">An option is out of range (every problem in the message).</exception>
    public static LocalStorageOptions From(DriverOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfAny(Check(options));
        return new LocalStorageOptions(RootOf(options), options.GetBoolean(FsyncKey, fallback: false),
            TimeSpan.FromMilliseconds(options.GetInt64(DebounceKey, 20)));
    }

    /// <summary>
    /// Every problem of the options: the range of <c>debounce-ms</c>, which the manifest also declares (for a caller
    /// that bypassed the manifest's validation). Where the folders lie is <see cref="StorageLayout.Check"/>'s.
    /// </summary>
    public static IEnumerable<DriverOptionProblem> Check(DriverOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var debounce = options.GetInt64(DebounceKey, 20);
        if (debounce is < 0 or > MaxDebounceMilliseconds)
            yield return new DriverOptionProblem(DebounceKey, $"must be between 0 and {MaxDebounceMilliseconds} milliseconds, got {debounce}");
    }

    /// <summary>The <c>root</c> option as the driver uses it: the setup's directory when not given.</summary>
    public static string RootOf(DriverOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var root = options.GetString(RootKey);
        return string.IsNullOrEmpty(root) ? "." : root;
    }

    /// <summary>Throws the <see cref="DriverException"/> creation refuses the problems with, if there are any.</summary>
    /// <exception cref="DriverException">There is a problem (every one in the message).</exception>
    public static void ThrowIfAny(IEnumerable<DriverOptionProblem> problems)
    {
        var sentences = problems
            .Select(p => p.Option is null ? char.ToUpperInvariant(p.Message[0]) + p.Message[1..] : $"The option '{p.Option}' {p.Message}")
            .Select(s => s.EndsWith('.') ? s : s + ".")
            .ToList();
        if (sentences.Count > 0)
            throw new DriverException(string.Join(" ", sentences));
    }
}
