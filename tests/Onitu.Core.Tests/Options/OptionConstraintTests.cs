namespace Onitu.Core.Tests.Options;

using Microsoft.Extensions.Logging.Abstractions;
using Onitu.Options;
using Onitu.Setup;

/// <summary>
/// Manifest bounds (minimum/maximum, pattern, minLength/maxLength) and the driver's own option check
/// (<see cref="IDriverOptionsValidator"/>): refused before anything starts, naming the service and the option.
/// </summary>
public class OptionConstraintTests
{
    private const string ManifestJson = """
        { "id": "bounded", "name": "Bounded", "description": "A driver with bounded options",
          "options": {
            "host": { "description": "Host; must not start with '-'", "type": "string", "minLength": 1, "pattern": "^[^-]" },
            "port": { "description": "Port", "type": "integer", "default": 22, "minimum": 1, "maximum": 65535 },
            "ratio": { "description": "Ratio", "type": "float", "default": 0.5, "minimum": 0, "maximum": 1 },
            "code": { "description": "Code", "type": "string", "default": null, "maxLength": 4 },
            "key": { "description": "Key file", "type": "string", "default": null }
          } }
        """;

    private static readonly DriverManifest Manifest = DriverManifest.Parse(ManifestJson);

    private static IReadOnlyList<string> Errors(Dictionary<string, object?> options) =>
        new OptionsValidator().Validate("svc", Manifest, options).Errors;

    [Test]
    public void The_manifest_carries_its_bounds()
    {
        Assert.That(Manifest.Options["port"].Minimum, Is.EqualTo(1));
        Assert.That(Manifest.Options["port"].Maximum, Is.EqualTo(65535));
        Assert.That(Manifest.Options["host"].Pattern, Is.EqualTo("^[^-]"));
        Assert.That(Manifest.Options["host"].MinLength, Is.EqualTo(1));
        Assert.That(Manifest.Options["code"].MaxLength, Is.EqualTo(4));
        Assert.That(Manifest.Options["key"].HasConstraints, Is.False);
        Assert.That(ManifestSchemas.ValidateManifestJson(ManifestJson), Is.Empty, "the schema of manifests accepts the bounds");
    }

    [Test]
    public void Values_within_the_bounds_pass()
    {
        var result = new OptionsValidator().Validate("svc", Manifest, new Dictionary<string, object?> { ["host"] = "h", ["port"] = 65535L, ["ratio"] = 1L, ["code"] = "abcd" });
        Assert.That(result.Errors, Is.Empty);
        Assert.That(result.Options!["port"], Is.EqualTo(65535L));
    }

    [TestCase("port", 70000L, "option 'port' must be between 1 and 65535, got 70000")]
    [TestCase("port", -1L, "option 'port' must be between 1 and 65535, got -1")]
    [TestCase("port", 0L, "option 'port' must be between 1 and 65535, got 0")]
    [TestCase("ratio", 1.5, "option 'ratio' must be between 0 and 1, got 1.5")]
    [TestCase("host", "", "option 'host' must not be empty")]
    [TestCase("host", "-oProxyCommand=x", "option 'host' must match the pattern ^[^-]")]
    [TestCase("code", "abcde", "option 'code' must have at most 4 characters")]
    public void A_value_outside_the_bounds_is_named_with_the_rule(string key, object value, string expected)
    {
        var options = new Dictionary<string, object?> { ["host"] = "h", [key] = value };
        var errors = Errors(options);
        Assert.That(errors, Has.Count.EqualTo(1), string.Join(Environment.NewLine, errors));
        Assert.That(errors[0], Does.StartWith("service 'svc': ").And.Contain(expected));
    }

    [TestCase("""{ "type": "string", "minimum": 1 }""", "not an integer or float option")]
    [TestCase("""{ "type": "integer", "pattern": "x" }""", "not a string option")]
    [TestCase("""{ "type": "integer", "minimum": 5, "maximum": 1 }""", "above its maximum")]
    [TestCase("""{ "type": "string", "pattern": "(" }""", "not a regular expression")]
    [TestCase("""{ "type": "integer", "minimum": 1.5 }""", "fractional")]
    [TestCase("""{ "type": "integer", "default": 0, "minimum": 1 }""", "must be at least 1")]
    [TestCase("""{ "type": "string", "minLength": -1 }""", "must not be negative")]
    public void Bounds_that_make_no_sense_are_reported_in_the_manifest(string option, string expected)
    {
        var json = $$"""{ "id": "x", "name": "X", "description": "X", "options": { "o": {{option.Replace("{ ", "{ \"description\": \"O\", ")}} } }""";
        var errors = ManifestSchemas.ValidateManifestJson(json);
        Assert.That(errors, Has.Some.Contains(expected), string.Join(Environment.NewLine, errors));
    }

    [Test]
    public void Every_bound_becomes_json_schema()
    {
        var schema = ManifestSchemas.ToJsonSchema(Manifest);
        Assert.That(schema.Properties["port"].Minimum, Is.EqualTo(1m));
        Assert.That(schema.Properties["port"].Maximum, Is.EqualTo(65535m));
        Assert.That(schema.Properties["host"].Pattern, Is.EqualTo("^[^-]"));
        Assert.That(schema.Properties["host"].MinLength, Is.EqualTo(1));
        Assert.That(schema.Properties["code"].MaxLength, Is.EqualTo(4));
    }

    // ---- the driver's own check ---------------------------------------------------------------------------------

    private sealed class CheckingFactory(Func<DriverOptions, string, IEnumerable<DriverOptionProblem>> check, Exception? createFailure = null)
        : IDriverFactory, IDriverOptionsValidator
    {
        public int Checks;
        public DriverManifest Manifest { get; } = OptionConstraintTests.Manifest;

        public IDriver Create(IPlug plug) => throw (createFailure ?? new InvalidOperationException("not created in these tests"));

        public IEnumerable<DriverOptionProblem> ValidateOptions(DriverOptions options, string baseDirectory)
        {
            Checks++;
            return check(options, baseDirectory);
        }
    }

    private static string TempDatabase() => Path.Combine(Path.GetTempPath(), $"onitu-constraints-{Guid.NewGuid():N}.db");

    private const string Yaml = """
        name: s
        folders: { docs: }
        services:
          nas:
            driver: bounded
            options:
              host: h
              key: missing.key
            folders: { docs: }
        """;

    [Test]
    public void The_drivers_check_is_reported_with_the_service_the_option_and_its_line()
    {
        string? seenBase = null;
        var factory = new CheckingFactory((options, baseDirectory) =>
        {
            seenBase = baseDirectory;
            return [new DriverOptionProblem("key", $"names a file that does not exist: {Path.Combine(baseDirectory, options.GetString("key")!)}")];
        });
        var setup = SetupLoader.Parse(Yaml, "/srv/conf/setup.yml");
        var errors = SetupValidator.Validate(setup, new Drivers.DriverCatalog([factory]), out var valid);

        Assert.That(errors, Has.Count.EqualTo(1));
        Assert.That(errors[0].Key, Is.EqualTo("services.nas.options.key"));
        Assert.That(errors[0].Line, Is.EqualTo(8));
        Assert.That(errors[0].Message, Is.EqualTo("option 'key' names a file that does not exist: /srv/conf/missing.key"));
        Assert.That(seenBase, Is.EqualTo(setup.BaseDirectory));
        Assert.That(valid, Does.Not.ContainKey("nas"));
    }

    [Test]
    public void The_drivers_check_of_the_options_the_manifest_accepted_is_reported_beside_the_manifests_refusal()
    {
        DriverOptions? seen = null;
        var factory = new CheckingFactory((options, _) =>
        {
            seen = options;
            return [new DriverOptionProblem("host", "is empty"), new DriverOptionProblem("key", "names a file that does not exist"),
                new DriverOptionProblem(null, "follows from the refused host")];
        });
        var setup = SetupLoader.Parse(Yaml.Replace("host: h", "host: -x"), "setup.yml");
        var errors = SetupValidator.Validate(setup, new Drivers.DriverCatalog([factory]), out var valid);
        Assert.That(errors.Select(e => $"{e.Key}: {e.Message}"), Is.EqualTo(new[]
        {
            "services.nas.options.host: option 'host' must match the pattern ^[^-] (Host; must not start with '-'), got \"-x\"",
            "services.nas.options.key: option 'key' names a file that does not exist",
        }), "only what the check says of an option the manifest accepted is the driver's; the rest may follow from the refusal");
        Assert.That(seen, Is.Not.Null.And.Not.ContainKey("host"), "the refused mandatory option is absent from what the check sees");
        Assert.That(seen!.GetString("key"), Is.EqualTo("missing.key"));
        Assert.That(valid, Does.Not.ContainKey("nas"));
    }

    [Test]
    public void A_check_that_throws_is_a_setup_error_not_a_crash()
    {
        var factory = new CheckingFactory((_, _) => throw new IOException("disk on fire"));
        var errors = SetupValidator.Validate(SetupLoader.Parse(Yaml, "setup.yml"), new Drivers.DriverCatalog([factory]), out _);
        Assert.That(errors, Has.Count.EqualTo(1));
        Assert.That(errors[0].Message, Does.Contain("disk on fire"));
        Assert.That(errors[0].Key, Is.EqualTo("services.nas.options"));
    }

    [Test]
    public void The_engine_refuses_to_start_on_the_drivers_check()
    {
        var factory = new CheckingFactory((_, _) => [new DriverOptionProblem("key", "is wrong")]);
        var setup = SetupLoader.Parse(Yaml, Path.Combine(Path.GetTempPath(), "onitu-constraints.yml"));
        var failure = Assert.Throws<SetupException>(() => SyncEngine.Create(new SyncEngineOptions { Setup = setup, DatabasePath = TempDatabase() }, [factory], NullLoggerFactory.Instance));
        Assert.That(failure!.Message, Does.Contain("services.nas.options.key").And.Contain("option 'key' is wrong"));
    }

    [Test]
    public void A_driver_that_refuses_its_options_when_created_is_a_setup_error()
    {
        var factory = new CheckingFactory((_, _) => [], new DriverException("The option 'key' is unusable."));
        var setup = SetupLoader.Parse(Yaml, Path.Combine(Path.GetTempPath(), "onitu-constraints.yml"));
        var failure = Assert.Throws<SetupException>(() => SyncEngine.Create(new SyncEngineOptions { Setup = setup, DatabasePath = TempDatabase() }, [factory], NullLoggerFactory.Instance));
        Assert.That(failure!.Message, Does.Contain("services.nas.options").And.Contain("The option 'key' is unusable.").And.Contain("'nas'"));
    }
}
