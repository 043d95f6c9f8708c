namespace Onitu.Drivers.LocalStorage;

/// <summary>The options of a local storage service (see manifest.json), read once when the driver is created.</summary>
internal sealed record LocalStorageOptions(string Root, bool Fsync, TimeSpan Debounce)
{
    public const string RootKey = "root";
    public const string FsyncKey = "fsync";
    public const string DebounceKey = "debounce-ms";

    // Past a minute, coalescing stops being a debounce and becomes lost liveness; it is surely a typo.
    private const long MaxDebounceMilliseconds = 60_000;

    /// <exception cref="DriverException">An option is out of range.</exception>
    public static LocalStorageOptions From(DriverOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var root = options.GetString(RootKey);
        var debounce = options.GetInt64(DebounceKey, 20);
        if (debounce is < 0 or > MaxDebounceMilliseconds)
            throw new DriverException($"The option '{DebounceKey}' must be between 0 and {MaxDebounceMilliseconds} milliseconds, not {debounce}.");
        return new LocalStorageOptions(
            string.IsNullOrEmpty(root) ? "." : root,
            options.GetBoolean(FsyncKey, fallback: false),
            TimeSpan.FromMilliseconds(debounce));
    }
}
