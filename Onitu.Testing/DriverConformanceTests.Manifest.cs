using System.Text;
using System.Text.Json;
using NUnit.Framework;
using Onitu.Options;

namespace Onitu.Testing;

// The manifest, option validation and the driver lifecycle.
public abstract partial class DriverConformanceTests
{
    /// <summary>The manifest is valid against the manifest schema (<see cref="OptionsValidator.ValidateManifest"/>) and parses back to the factory's manifest id.</summary>
    [Test]
    public virtual void Manifest_is_valid_against_the_manifest_schema()
    {
        var json = GetManifestJson();
        var errors = OptionsValidator.ValidateManifest(json);
        Assert.That(errors, Is.Empty, $"The manifest of '{Factory.Manifest.Id}' is not valid:\n{json}");
        Assert.That(DriverManifest.Parse(json).Id, Is.EqualTo(Factory.Manifest.Id), "The manifest JSON's id is not the factory's manifest id");
    }

    /// <summary>The area's options are valid; without each mandatory option in turn, validation fails naming that option.</summary>
    [Test]
    public virtual void Every_mandatory_option_is_required()
    {
        var validator = new OptionsValidator();
        var manifest = Factory.Manifest;
        var valid = validator.Validate(SubjectService, manifest, Area.Options);
        Assert.That(valid.Errors, Is.Empty, "The area's options should be valid");
        var mandatory = manifest.Options.Values.Where(o => o.IsMandatory).ToList();
        if (mandatory.Count == 0)
            Assert.Ignore($"The manifest of '{manifest.Id}' has no mandatory option.");
        foreach (var option in mandatory)
        {
            var without = Area.Options.Where(p => p.Key != option.Key).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
            var result = validator.Validate(SubjectService, manifest, without);
            Assert.That(result.IsValid, Is.False, $"The options validated without the mandatory option '{option.Key}'");
            Assert.That(result.Errors, Has.Some.Contains(option.Key), $"No error names the missing option '{option.Key}'");
        }
    }

    /// <summary>An option given a value of the wrong type fails validation, naming the option.</summary>
    [Test]
    public virtual void Options_of_the_wrong_type_are_rejected()
    {
        var validator = new OptionsValidator();
        var manifest = Factory.Manifest;
        var tried = 0;
        foreach (var option in manifest.Options.Values)
        {
            object? wrong = option.Type switch
            {
                OptionType.Integer => "not a number",
                OptionType.Float => "not a number",
                OptionType.Boolean => "not a boolean",
                OptionType.Enumerate => "not-one-of-the-values-" + Guid.NewGuid().ToString("N"),
                _ => new Dictionary<string, object?> { ["a"] = "mapping" },
            };
            var options = Area.Options.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
            options[option.Key] = wrong;
            var result = validator.Validate(SubjectService, manifest, options);
            Assert.That(result.IsValid, Is.False, $"The option '{option.Key}' ({option.Type}) validated with the value {wrong}");
            Assert.That(result.Errors, Has.Some.Contains(option.Key), $"No error names the option '{option.Key}' given a wrong value");
            tried++;
        }
        if (tried == 0)
            Assert.Ignore($"The manifest of '{manifest.Id}' has no option.");
    }


    /// <summary>A driver instance that scanned and wrote closes cleanly: DisposeAsync completes without exception, and twice is safe.</summary>
    [Test]
    public virtual async Task Closes_cleanly_twice()
    {
        var plug = CreateSubjectPlug();
        var driver = Factory.Create(plug);
        using (var stream = new MemoryStream(Content(10, 900)))
            await driver.UploadFileAsync(new Metadata(FolderName, "close.txt") { Size = 10 }, stream, Cancellation).ConfigureAwait(false);
        await driver.ScanAsync(Cancellation).ConfigureAwait(false);
        await driver.DisposeAsync().AsTask().WaitAsync(Scaled(10), Cancellation).ConfigureAwait(false);
        await driver.DisposeAsync().AsTask().WaitAsync(Scaled(10), Cancellation).ConfigureAwait(false);

        await using var engine = CreateEngine().ConfigureAwait(false);
        await SyncAsync("before closing the engine").ConfigureAwait(false);
        await StopEngineAsync().ConfigureAwait(false);
    }

    /// <summary>Writes a manifest as the JSON of a manifest.json file.</summary>
    internal static class ManifestJson
    {
        public static string Write(DriverManifest manifest)
        {
            using var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            {
                json.WriteStartObject();
                json.WriteString("id", manifest.Id);
                json.WriteString("name", manifest.Name);
                json.WriteString("description", manifest.Description);
                if (manifest.EntryType is { } entry)
                    json.WriteString("entryType", entry);
                json.WriteStartObject("options");
                foreach (var (key, option) in manifest.Options)
                {
                    json.WriteStartObject(key);
                    json.WriteString("name", option.Name);
                    json.WriteString("description", option.Description);
                    json.WriteString("type", option.Type.ToString().ToLowerInvariant());
                    if (option.Values.Count > 0)
                    {
                        json.WriteStartArray("values");
                        foreach (var value in option.Values)
                            json.WriteStringValue(value);
                        json.WriteEndArray();
                    }
                    if (option.HasDefault)
                    {
                        json.WritePropertyName("default");
                        JsonSerializer.Serialize(json, option.Default);
                    }
                    if (option.IsSecret)
                        json.WriteBoolean("secret", true);
                    json.WriteEndObject();
                }
                json.WriteEndObject();
                json.WriteEndObject();
            }
            return Encoding.UTF8.GetString(buffer.ToArray());
        }
    }
}
