using Onitu.Setup;

namespace Onitu.Services;

/// <summary>
/// What a rule reload may change: folder rules, service folder rules and modes, new unmapped folders. What it may
/// not: the services themselves (they hold open drivers), and where a service maps a folder.
/// </summary>
internal static class ReloadCompatibility
{
    public static IEnumerable<SetupError> Check(OnituSetup current, OnituSetup next)
    {
        var file = next.SourceFile;
        var currentNames = current.Services.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var service in next.Services)
        {
            if (!currentNames.Contains(service.Name))
            {
                yield return new SetupError(file, service.Line, $"services.{service.Name}",
                    "a reload cannot add a service; restart the engine to add it");
                continue;
            }
            var old = current.FindService(service.Name)!;
            if (!string.Equals(old.Driver, service.Driver, StringComparison.Ordinal))
                yield return new SetupError(file, service.DriverLine, $"services.{service.Name}.driver", "a reload cannot change a service's driver");
            if (!SameOptions(old.Options, service.Options))
                yield return new SetupError(file, service.OptionsLine, $"services.{service.Name}.options", "a reload cannot change a service's options");
            var oldPaths = old.Folders.ToDictionary(f => f.Folder, f => f.Path, StringComparer.Ordinal);
            var newPaths = service.Folders.ToDictionary(f => f.Folder, f => f.Path, StringComparer.Ordinal);
            foreach (var folder in newPaths.Keys.Union(oldPaths.Keys, StringComparer.Ordinal))
            {
                if (!oldPaths.TryGetValue(folder, out var was) || !newPaths.TryGetValue(folder, out var now) || was != now)
                {
                    var line = service.Folders.FirstOrDefault(f => f.Folder == folder)?.Line;
                    yield return new SetupError(file, line is > 0 ? line : service.Line, $"services.{service.Name}.folders.{folder}",
                        "a reload cannot map, unmap or move a folder of a service; restart the engine for that");
                }
            }
        }
        foreach (var removed in currentNames.Where(n => next.FindService(n) is null))
            yield return new SetupError(file, null, $"services.{removed}", "a reload cannot remove a service; restart the engine to remove it");
    }

    private static bool SameOptions(IReadOnlyDictionary<string, object?> a, IReadOnlyDictionary<string, object?> b) =>
        a.Count == b.Count && a.All(pair => b.TryGetValue(pair.Key, out var other) && SameValue(pair.Value, other));

    private static bool SameValue(object? a, object? b) => (a, b) switch
    {
        (null, null) => true,
        (IReadOnlyDictionary<string, object?> x, IReadOnlyDictionary<string, object?> y) => SameOptions(x, y),
        (IReadOnlyList<object?> x, IReadOnlyList<object?> y) => x.Count == y.Count && x.Zip(y).All(p => SameValue(p.First, p.Second)),
        _ => Equals(a, b),
    };
}
