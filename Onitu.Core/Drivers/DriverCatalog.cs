namespace Onitu.Drivers;

/// <summary>
/// The drivers an engine can use, by manifest id: those registered in DI or handed to
/// <c>SyncEngine.Create</c>, each with where it came from (shown when a setup's driver is resolved).
/// </summary>
public sealed class DriverCatalog
{
    private readonly Dictionary<string, (IDriverFactory Factory, string Origin)> _drivers = new(StringComparer.Ordinal);
    private volatile bool _frozen;

    /// <summary>Creates a catalog of <paramref name="factories"/>.</summary>
    /// <exception cref="OnituException">Two drivers share an id.</exception>
    public DriverCatalog(IEnumerable<IDriverFactory> factories)
    {
        ArgumentNullException.ThrowIfNull(factories);
        foreach (var factory in factories)
            Add(factory, "assembly " + factory.GetType().Assembly.GetName().Name);
    }

    /// <summary>Adds a driver, saying where it comes from (an assembly, a plugin folder).</summary>
    /// <exception cref="OnituException">A driver with the same id is already in the catalog from elsewhere.</exception>
    /// <exception cref="InvalidOperationException">An engine was already created from this catalog.</exception>
    public void Add(IDriverFactory factory, string origin)
    {
        ArgumentNullException.ThrowIfNull(factory);
        // An engine resolves its services' drivers once, when it is created: a driver added later would be listed
        // but never used, so the catalog is closed instead.
        if (_frozen)
            throw new InvalidOperationException($"The driver '{factory.Manifest.Id}' cannot be added: an engine was already created from this catalog. Add drivers before creating the engine.");
        var id = factory.Manifest.Id;
        if (_drivers.TryGetValue(id, out var existing))
        {
            if (existing.Factory.GetType() == factory.GetType())
                return; // the same driver registered twice (DI TryAdd semantics)
            throw new OnituException($"Two drivers have the id '{id}': one from {existing.Origin}, one from {origin}.");
        }
        _drivers[id] = (factory, origin);
    }

    /// <summary>Closes the catalog to additions; called when an engine is created from it.</summary>
    internal void Freeze() => _frozen = true;

    /// <summary>The ids of every driver, sorted.</summary>
    public IReadOnlyList<string> Ids => [.. _drivers.Keys.Order(StringComparer.Ordinal)];

    /// <summary>Every driver's factory, by id order.</summary>
    public IEnumerable<IDriverFactory> Factories => Ids.Select(id => _drivers[id].Factory);

    /// <summary>Returns the driver with <paramref name="id"/>, or null.</summary>
    public IDriverFactory? Find(string id) => _drivers.TryGetValue(id, out var d) ? d.Factory : null;

    /// <summary>Where the driver with <paramref name="id"/> comes from.</summary>
    public string? OriginOf(string id) => _drivers.TryGetValue(id, out var d) ? d.Origin : null;
}
