namespace Onitu.Core.Tests.Options;

using NJsonSchema;
using Onitu.Options;

public class OptionsValidatorTests
{
    private static readonly DriverManifest Manifest = DriverManifest.Parse("""
        {
          "id": "nas_driver",
          "name": "NAS",
          "description": "A network store",
          "options": {
            "host": { "name": "Remote host name", "description": "The host to connect to", "type": "string" },
            "user": { "description": "The account", "type": "string" },
            "port": { "name": "Port", "description": "TCP port", "type": "integer", "default": 22 },
            "ratio": { "description": "Compression ratio", "type": "float", "default": 1.5 },
            "fsync": { "description": "Flush after writes", "type": "boolean", "default": false },
            "mode": { "description": "Speed", "type": "enumerate", "values": ["fast", "slow"], "default": "fast" },
            "level": { "description": "Level", "type": "enumerate", "values": ["1", "2"], "default": null },
            "password": { "description": "Password", "type": "string", "default": null, "secret": true },
            "pin": { "description": "A PIN", "type": "integer", "default": 0, "secret": true },
            "cipher": { "description": "Cipher", "type": "enumerate", "values": ["aes", "chacha"], "default": "aes", "secret": true }
          }
        }
        """);

    private readonly OptionsValidator _validator = new();

    private static Dictionary<string, object?> Valid() => new() { ["host"] = "nas.local", ["user"] = "me" };

    private OptionsValidationResult Validate(Dictionary<string, object?> options) => _validator.Validate("nas", Manifest, options);

    private string SingleError(Dictionary<string, object?> options)
    {
        var result = Validate(options);
        Assert.That(result.IsValid, Is.False);
        Assert.That(result.Options, Is.Null);
        Assert.That(result.Errors, Has.Count.EqualTo(1), string.Join(Environment.NewLine, result.Errors));
        return result.Errors[0];
    }

    [Test]
    public void Valid_options_are_typed_and_defaults_filled_in()
    {
        var result = Validate(Valid());
        Assert.That(result.IsValid, Is.True, string.Join(Environment.NewLine, result.Errors));
        var options = result.Options!;
        Assert.That(options["host"], Is.EqualTo("nas.local"));
        Assert.That(options["port"], Is.EqualTo(22L));
        Assert.That(options["ratio"], Is.EqualTo(1.5));
        Assert.That(options["fsync"], Is.EqualTo(false));
        Assert.That(options["mode"], Is.EqualTo("fast"));
        Assert.That(options["level"], Is.Null);
        Assert.That(options["password"], Is.Null);
        Assert.That(options.Keys, Is.EqualTo(Manifest.Options.Keys), "every option of the manifest, in its order");
        Assert.That(options.IsSecret("password") && options.IsSecret("pin") && !options.IsSecret("host"), Is.True);
    }

    [Test]
    public void Given_values_win_over_defaults_and_an_integer_is_a_valid_float()
    {
        var options = Valid();
        options["port"] = 2222L;
        options["ratio"] = 2L;
        options["fsync"] = true;
        options["mode"] = "slow";
        var result = Validate(options);
        Assert.That(result.IsValid, Is.True, string.Join(Environment.NewLine, result.Errors));
        Assert.That(result.Options!["port"], Is.EqualTo(2222L));
        Assert.That(result.Options["ratio"], Is.TypeOf<double>().And.EqualTo(2.0));
        Assert.That(result.Options["fsync"], Is.EqualTo(true));
        Assert.That(result.Options["mode"], Is.EqualTo("slow"));
    }

    [TestCase("port", "abc", "service 'nas': option 'port' must be an integer, got \"abc\"")]
    [TestCase("port", 1.5, "service 'nas': option 'port' must be an integer, got 1.5")]
    [TestCase("port", true, "service 'nas': option 'port' must be an integer, got true")]
    [TestCase("ratio", "fast", "service 'nas': option 'ratio' must be a number, got \"fast\"")]
    [TestCase("fsync", "yes", "service 'nas': option 'fsync' must be true or false, got \"yes\"")]
    [TestCase("port", null, "service 'nas': option 'port' must be an integer, got null")]
    public void A_value_of_the_wrong_type_is_reported_with_what_was_expected(string option, object? value, string expected)
    {
        var options = Valid();
        options[option] = value is int i ? (long)i : value;
        Assert.That(SingleError(options), Is.EqualTo(expected));
    }

    [Test]
    public void A_list_for_a_string_is_reported()
    {
        var options = Valid();
        options["host"] = new List<object?> { "a", "b" };
        Assert.That(SingleError(options), Is.EqualTo("service 'nas': option 'host' must be a string, got a list"));
    }

    [TestCase("host", "service 'nas': missing mandatory option 'host' (Remote host name)")]
    [TestCase("user", "service 'nas': missing mandatory option 'user' (The account)")]
    public void Each_missing_mandatory_option_is_reported(string missing, string expected)
    {
        var options = Valid();
        options.Remove(missing);
        Assert.That(SingleError(options), Is.EqualTo(expected));
    }

    [Test]
    public void All_problems_are_reported_together()
    {
        var result = Validate(new Dictionary<string, object?> { ["port"] = "x", ["hots"] = "h" });
        Assert.That(result.Errors, Has.Count.EqualTo(4), string.Join(Environment.NewLine, result.Errors));
        Assert.That(result.Errors, Has.Some.Contains("missing mandatory option 'host'"));
        Assert.That(result.Errors, Has.Some.Contains("missing mandatory option 'user'"));
        Assert.That(result.Errors, Has.Some.Contains("option 'port' must be an integer"));
        Assert.That(result.Errors, Has.Some.Contains("unknown option 'hots'"));
    }

    [Test]
    public void An_unknown_option_suggests_the_nearest_and_lists_the_known()
    {
        var options = Valid();
        options["prot"] = 22L;
        Assert.That(SingleError(options), Is.EqualTo(
            "service 'nas': unknown option 'prot' (did you mean 'port'?; known options: host, user, port, ratio, fsync, mode, level, password, pin, cipher)"));
    }

    [Test]
    public void An_unknown_option_far_from_any_lists_the_known()
    {
        var options = Valid();
        options["zzzzzzzz"] = 1L;
        Assert.That(SingleError(options), Does.StartWith("service 'nas': unknown option 'zzzzzzzz' (known options: host, user,"));
    }

    [Test]
    public void A_driver_without_options_says_so()
    {
        var manifest = new DriverManifest("bare", "Bare", "", new Dictionary<string, ManifestOption>());
        var result = _validator.Validate("x", manifest, new Dictionary<string, object?> { ["root"] = "/" });
        Assert.That(result.Errors.Single(), Is.EqualTo("service 'x': unknown option 'root' (the driver 'bare' takes no options)"));
    }

    [Test]
    public void An_enumerate_out_of_range_lists_the_values()
    {
        var options = Valid();
        options["mode"] = "medium";
        Assert.That(SingleError(options), Is.EqualTo("service 'nas': option 'mode' must be one of: fast, slow; got \"medium\""));
    }

    [Test]
    public void A_nullable_default_accepts_null_and_says_so_when_wrong()
    {
        var options = Valid();
        options["password"] = null;
        options["level"] = null;
        Assert.That(Validate(options).IsValid, Is.True);

        options["level"] = "3";
        Assert.That(SingleError(options), Is.EqualTo("service 'nas': option 'level' must be one of: 1, 2 (or null); got \"3\""));
    }

    [Test]
    public void A_number_given_to_an_enumerate_of_digits_is_taken_as_written()
    {
        var options = Valid();
        options["level"] = 2L;
        var result = Validate(options);
        Assert.That(result.IsValid, Is.True, string.Join(Environment.NewLine, result.Errors));
        Assert.That(result.Options!["level"], Is.EqualTo("2"));
    }

    [Test]
    public void A_number_given_to_a_string_option_becomes_its_text()
    {
        var options = Valid();
        options["host"] = 1234L;
        var result = Validate(options);
        Assert.That(result.Options!["host"], Is.EqualTo("1234"));
    }

    [Test]
    public void Date_like_strings_stay_strings()
    {
        var options = Valid();
        options["host"] = "2024-01-01T10:00:00Z";
        Assert.That(Validate(options).Options!["host"], Is.EqualTo("2024-01-01T10:00:00Z"));
    }

    [TestCase("pin", "s3cr3t-value")]
    [TestCase("pin", 12.75)]
    [TestCase("cipher", "s3cr3t-value")]
    public void Secret_values_never_appear_in_messages(string option, object value)
    {
        var options = Valid();
        options[option] = value;
        var error = SingleError(options);
        Assert.That(error, Does.Not.Contain("s3cr3t").And.Not.Contain("12.75"));
        Assert.That(error, Does.Contain($"option '{option}' must be").And.Contain("the value given is").And.Contain("secret"));
    }

    [Test]
    public void Secret_values_are_masked_when_the_options_are_shown()
    {
        var options = Valid();
        options["password"] = "hunter2";
        var shown = Validate(options).Options!.ToString();
        Assert.That(shown, Does.Not.Contain("hunter2"));
        Assert.That(shown, Does.Contain("password=***"));
    }

    [Test]
    public void The_manifest_becomes_a_json_schema()
    {
        var schema = ManifestSchemas.ToJsonSchema(Manifest);
        Assert.That(schema.Type, Is.EqualTo(JsonObjectType.Object));
        Assert.That(schema.AllowAdditionalProperties, Is.False);
        Assert.That(schema.RequiredProperties, Is.EquivalentTo(new[] { "host", "user" }));
        Assert.That(schema.Properties["port"].Type, Is.EqualTo(JsonObjectType.Integer));
        Assert.That(schema.Properties["ratio"].Type, Is.EqualTo(JsonObjectType.Number));
        Assert.That(schema.Properties["fsync"].Type, Is.EqualTo(JsonObjectType.Boolean));
        Assert.That(schema.Properties["host"].Type, Is.EqualTo(JsonObjectType.String));
        Assert.That(schema.Properties["mode"].Type, Is.EqualTo(JsonObjectType.String));
        Assert.That(schema.Properties["mode"].Enumeration, Is.EqualTo(new object[] { "fast", "slow" }));
        Assert.That(schema.Properties["password"].Type, Is.EqualTo(JsonObjectType.String | JsonObjectType.Null));
        Assert.That(schema.Properties["level"].Enumeration, Is.EqualTo(new object?[] { "1", "2", null }));
        Assert.That(schema.Properties["port"].Default, Is.EqualTo(22L));
        Assert.That(schema.Validate("""{"host": "h", "user": "u", "port": 1}"""), Is.Empty);
        Assert.That(schema.Validate("""{"host": "h"}"""), Has.Count.EqualTo(1));
    }

    // The plain check (no JSON Schema) decides alone only when it is sure: whatever it accepts, the schema accepts too.
    private static readonly DriverManifest Bounded = DriverManifest.Parse("""
        {
          "id": "bounded",
          "options": {
            "name": { "type": "string" },
            "port": { "type": "integer", "default": 22, "minimum": 1, "maximum": 65535 },
            "ratio": { "type": "float", "default": 0.5, "minimum": -1.5, "maximum": 2.5 },
            "count": { "type": "integer", "default": null },
            "fsync": { "type": "boolean", "default": false },
            "mode": { "type": "enumerate", "values": ["fast", "slow"], "default": "fast" },
            "level": { "type": "enumerate", "values": ["1", "2"], "default": null },
            "host": { "type": "string", "default": null, "minLength": 1, "pattern": "^[^-]" }
          }
        }
        """);

    private static readonly object?[] Candidates =
    [
        null, true, false, "", "x", "-x", "fast", "slow", "1", "Fast", 0L, 1L, -1L, 2L, 22L, 65535L, 65536L, long.MaxValue, long.MinValue,
        5, (short)5, (byte)5, 5u, (ulong)5, ulong.MaxValue, 0.5, 2.0, 2.5, 2.5000001, -1.5, -1.6, 1e300, -0.0, double.NaN,
        double.PositiveInfinity, double.NegativeInfinity, 1.5f, 3.5m, new List<object?> { 1L }, new Dictionary<string, object?> { ["a"] = 1L },
    ];

    [Test]
    public void The_plain_check_accepts_nothing_the_schema_refuses()
    {
        var accepted = 0;
        foreach (var key in Bounded.Options.Keys.Append("unknown"))
        {
            foreach (var value in Candidates)
            {
                var input = new Dictionary<string, object?> { ["name"] = "n", [key] = value };
                if (!OptionsValidator.IsPlainlyValid(Bounded, input))
                    continue;
                accepted++;
                var problems = _validator.SchemaProblems(Bounded, input);
                Assert.That(problems, Is.Empty, $"{key}: {value ?? "null"} ({value?.GetType().Name}) passed the plain check");
            }
        }
        Assert.That(OptionsValidator.IsPlainlyValid(Bounded, new Dictionary<string, object?>()), Is.False, "a mandatory option is missing");
        Assert.That(accepted, Is.GreaterThan(20), "the plain check accepts the usual values");
    }

    [Test]
    public void Usual_options_are_validated_without_the_schema_and_typed_as_with_it()
    {
        var input = new Dictionary<string, object?> { ["name"] = "n", ["port"] = 2222L, ["ratio"] = 1L, ["fsync"] = true, ["level"] = null };
        Assert.That(OptionsValidator.IsPlainlyValid(Bounded, input), Is.True);

        var result = _validator.Validate("svc", Bounded, input);

        Assert.That(result.IsValid, Is.True, string.Join(Environment.NewLine, result.Errors));
        Assert.That(result.Options!["port"], Is.EqualTo(2222L));
        Assert.That(result.Options!["ratio"], Is.EqualTo(1.0));
        Assert.That(result.Options!["fsync"], Is.EqualTo(true));
        Assert.That(result.Options!["mode"], Is.EqualTo("fast"));
        Assert.That(result.Options!["level"], Is.Null);
    }
}
