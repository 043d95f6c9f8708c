namespace Onitu.Drivers;

/// <summary>
/// The drivers an engine can use, by manifest id: those registered in DI or handed to
/// <c>SyncEngine.Create</c>, each with where it came from (shown when a setup's driver is resolved).
/// </summary>
public sealed class DriverCatalog
{
    private readonly Dictionary<string, (IDriverFactory Factory, string Origin)> _drivers = new(StringComparer.Ordinal);

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
    public void Add(IDriverFactory factory, string origin)
    {
        ArgumentNullException.ThrowIfNull(factory);
        var id = factory.Manifest.Id;
        if (_drivers.TryGetValue(id, out var existing))
        {
            if (existing.Factory.GetType() == factory.GetType())
                return; // the same driver registered twice (DI TryAdd semantics)
            throw new OnituException($"Two drivers have the id '{id}': one from {existing.Origin}, one from {origin}.");
        }
        _drivers[id] = (factory, origin);
    }

    /// <summary>The ids of every driver, sorted.</summary>
    public IReadOnlyList<string> Ids => [.. _drivers.Keys.Order(StringComparer.Ordinal)];

    /// <summary>Every driver's factory, by id order.</summary>
    public IEnumerable<IDriverFactory> Factories => Ids.Select(id => _drivers[id].Factory);

    /// <summary>Returns the driver with <paramref name="id"/>, or null.</summary>
    public IDriverFactory? Find(string id) => _drivers.TryGetValue(id, out var d) ? d.Factory : null;

    /// <summary>Where the driver with <paramref name="id"/> comes from.</summary>
    public string? OriginOf(string id) => _drivers.TryGetValue(id, out var d) ? d.Origin : null;
}
