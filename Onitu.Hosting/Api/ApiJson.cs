using System.Text.Json;
using System.Text.Json.Serialization;
using Onitu.Rules;
using Onitu.Setup;

namespace Onitu.Hosting;

/// <summary>The JSON shapes of the REST API 1.0 (the original Onitu's, with what this engine adds).</summary>
internal static class ApiJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        // Times serialized as they are (the events' Time) come out as every route gives them.
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase), new EpochSecondsConverter() },
    };

    /// <summary>Seconds since the Unix epoch, as the original API gave times.</summary>
    public static double Time(DateTimeOffset time) => time.ToUnixTimeMilliseconds() / 1000.0;

    /// <summary>Writes a <see cref="DateTimeOffset"/> as <see cref="Time"/> does, and reads it back.</summary>
    private sealed class EpochSecondsConverter : JsonConverter<DateTimeOffset>
    {
        public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Round(reader.GetDouble() * 1000));

        public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
            writer.WriteNumberValue(Time(value));
    }

    public static object File(FileEntry file) => new
    {
        fid = file.Fid,
        filename = file.Path,
        folder = file.Folder,
        size = file.Size,
        mime = file.MimeType,
        modified = file.ModifiedAt is { } m ? Time(m) : (double?)null,
        origin = file.Origin,
        owners = file.Owners,
        uptodate = file.UpToDate,
    };

    public static object Transfer(TransferEntry t) => new
    {
        fid = t.Fid,
        filename = t.Path,
        folder = t.Folder,
        size = t.Size,
        kind = t.Kind,
        origin = t.Origin,
        target = t.Target,
        offset = t.Offset,
        attempts = t.Attempts,
        last_error = t.LastError,
        retry_at = t.NotBefore is { } n ? Time(n) : (double?)null,
        active = t.Active,
    };

    /// <summary>A service as <c>GET /entries</c> describes it; options the driver's manifest marks secret are left out.</summary>
    public static object Entry(SyncEngine engine, ServiceSetup service)
    {
        var manifest = engine.Drivers.Find(service.Driver)?.Manifest;
        var options = new SortedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in service.Options)
        {
            // Unknown to the manifest counts as secret: nothing is shown that the driver did not declare.
            if (manifest is not null && manifest.Options.TryGetValue(key, out var declared) && !declared.IsSecret)
                options[key] = value;
        }
        return new
        {
            name = service.Name,
            driver = service.Driver,
            options,
            folders = service.Folders.ToDictionary(f => f.Folder, f => f.Path, StringComparer.Ordinal),
        };
    }

    public static string Status(ServiceState state) => state switch
    {
        ServiceState.Running or ServiceState.Scanning => "active",
        ServiceState.Failing => "failing",
        _ => "stopped",
    };

    public static object Error(string reason) => new { reason, status = "error" };

    // ---- rules --------------------------------------------------------------------------------------------------

    /// <summary>The rules of a setup, one per folder: the folder's options and how each service maps it.</summary>
    public static object Rules(OnituSetup setup) => setup.FolderNames.Select(folder => new
    {
        folder,
        options = RuleOptions(setup.Folders[folder]),
        services = setup.Services
            .Where(s => s.Folders.Any(f => f.Folder == folder))
            .Select(s =>
            {
                var mapped = s.Folders.First(f => f.Folder == folder);
                return new { name = s.Name, path = mapped.Path, options = RuleOptions(mapped.Rules) };
            }),
    });

    private static SortedDictionary<string, object> RuleOptions(FolderRules rules)
    {
        var options = new SortedDictionary<string, object>(StringComparer.Ordinal);
        if (rules.Mode is { } mode)
            options["mode"] = mode.ToSetupString();
        if (rules.Types.Count > 0)
            options["type"] = rules.Types;
        if (rules.MinSize is { } min)
            options["min-size"] = min;
        if (rules.MaxSize is { } max)
            options["max-size"] = max;
        if (rules.Blacklist.Count > 0)
            options["blacklist"] = rules.Blacklist;
        if (rules.Whitelist.Count > 0)
            options["whitelist"] = rules.Whitelist;
        return options;
    }

    /// <summary>
    /// Reads rules in the shape <see cref="Rules"/> writes into a setup derived from <paramref name="current"/>;
    /// every problem is reported at once, by its place in the document.
    /// </summary>
    public static OnituSetup ParseRules(OnituSetup current, JsonElement document)
    {
        var errors = new List<SetupError>();
        void Error(string key, string message) => errors.Add(new SetupError(null, null, key, message));

        if (document.ValueKind != JsonValueKind.Object || !document.TryGetProperty("rules", out var rules) || rules.ValueKind != JsonValueKind.Array)
            throw new SetupException([new SetupError(null, null, "rules", "expected an object with a 'rules' array")]);

        var folders = new List<KeyValuePair<string, FolderRules>>();
        var serviceRules = new Dictionary<string, Dictionary<string, FolderRules>>(StringComparer.Ordinal);
        var index = 0;
        foreach (var rule in rules.EnumerateArray())
        {
            var at = $"rules[{index++}]";
            if (rule.ValueKind != JsonValueKind.Object || !rule.TryGetProperty("folder", out var folderName) || folderName.ValueKind != JsonValueKind.String)
            {
                Error(at + ".folder", "expected the folder's name");
                continue;
            }
            var folder = folderName.GetString()!;
            folders.Add(new(folder, ReadRuleOptions(rule, at + ".options", Error)));
            if (!rule.TryGetProperty("services", out var services))
                continue;
            if (services.ValueKind != JsonValueKind.Array)
            {
                Error(at + ".services", "expected an array");
                continue;
            }
            var serviceIndex = 0;
            foreach (var service in services.EnumerateArray())
            {
                var serviceAt = $"{at}.services[{serviceIndex++}]";
                if (service.ValueKind != JsonValueKind.Object || !service.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
                {
                    Error(serviceAt + ".name", "expected the service's name");
                    continue;
                }
                var serviceName = name.GetString()!;
                var mapping = current.FindService(serviceName)?.Folders.FirstOrDefault(f => f.Folder == folder);
                if (mapping is null)
                {
                    Error(serviceAt, $"service '{serviceName}' does not map folder '{folder}' (a rule change cannot map a folder)");
                    continue;
                }
                if (service.TryGetProperty("path", out var path) && (path.ValueKind != JsonValueKind.String || path.GetString() != mapping.Path))
                    Error(serviceAt + ".path", $"a rule change cannot move a folder (it stays '{mapping.Path}')");
                if (!serviceRules.TryGetValue(serviceName, out var byFolder))
                    serviceRules[serviceName] = byFolder = new Dictionary<string, FolderRules>(StringComparer.Ordinal);
                byFolder[folder] = ReadRuleOptions(service, serviceAt + ".options", Error);
            }
        }
        if (errors.Count > 0)
            throw new SetupException(errors);
        try
        {
            return current.WithRules(folders,
                serviceRules.ToDictionary(p => p.Key, p => (IReadOnlyDictionary<string, FolderRules>)p.Value, StringComparer.Ordinal));
        }
        catch (ArgumentException e)
        {
            throw new SetupException([new SetupError(null, null, "rules", e.Message)]);
        }
    }

    private static FolderRules ReadRuleOptions(JsonElement owner, string at, Action<string, string> error)
    {
        if (!owner.TryGetProperty("options", out var options) || options.ValueKind == JsonValueKind.Null)
            return FolderRules.Empty;
        if (options.ValueKind != JsonValueKind.Object)
        {
            error(at, "expected an object");
            return FolderRules.Empty;
        }
        var rules = FolderRules.Empty;
        foreach (var option in options.EnumerateObject())
        {
            var key = $"{at}.{option.Name}";
            switch (option.Name)
            {
                case "mode":
                    if (option.Value.ValueKind == JsonValueKind.String && AccessModes.TryParse(option.Value.GetString(), out var mode))
                        rules = rules with { Mode = mode };
                    else
                        error(key, "expected r, w or rw");
                    break;
                case "type":
                    rules = rules with { Types = Strings(option.Value, key, error) };
                    break;
                case "blacklist":
                    rules = rules with { Blacklist = Strings(option.Value, key, error) };
                    break;
                case "whitelist":
                    rules = rules with { Whitelist = Strings(option.Value, key, error) };
                    break;
                case "min-size":
                    rules = rules with { MinSize = Size(option.Value, key, error) };
                    break;
                case "max-size":
                    rules = rules with { MaxSize = Size(option.Value, key, error) };
                    break;
                default:
                    error(key, "unknown rule option (known: mode, type, min-size, max-size, blacklist, whitelist)");
                    break;
            }
        }
        return rules;
    }

    private static string[] Strings(JsonElement value, string key, Action<string, string> error)
    {
        if (value.ValueKind == JsonValueKind.String)
            return [value.GetString()!];
        if (value.ValueKind == JsonValueKind.Array && value.EnumerateArray().All(v => v.ValueKind == JsonValueKind.String))
            return [.. value.EnumerateArray().Select(v => v.GetString()!)];
        error(key, "expected a string or an array of strings");
        return [];
    }

    private static long? Size(JsonElement value, string key, Action<string, string> error)
    {
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var bytes) && bytes >= 0)
            return bytes;
        if (value.ValueKind == JsonValueKind.String && SizeParser.TryParse(value.GetString(), out bytes))
            return bytes;
        error(key, "expected a size in bytes, or a number with a suffix such as 10M or 4MiB");
        return null;
    }
}
