namespace Onitu.Core.Tests.Options;

using Onitu.Options;

public class ManifestValidationTests
{
    private const string Valid = """
        {
          "id": "local_storage",
          "name": "Local storage",
          "description": "Folders on a local disk.",
          "entryType": "Onitu.Drivers.LocalStorage.LocalStorageDriverFactory",
          "options": {
            "root": { "name": "Root", "description": "Base directory", "type": "string", "default": "." },
            "mode": { "description": "Speed", "type": "enumerate", "values": ["fast", "slow"], "default": "fast" },
            "port": { "description": "Port", "type": "integer", "default": 22 },
            "ratio": { "description": "Ratio", "type": "float", "default": 1 },
            "key": { "description": "Key", "type": "string", "default": null, "secret": true },
            "host": { "description": "Host", "type": "string" }
          }
        }
        """;

    private static string WithOption(string option) => $$"""
        { "id": "d", "name": "D", "description": "x", "options": { "o": {{option}} } }
        """;

    private static string SingleError(string json)
    {
        var errors = ManifestSchemas.ValidateManifestJson(json);
        Assert.That(errors, Has.Count.EqualTo(1), string.Join(Environment.NewLine, errors));
        return errors[0];
    }

    [Test]
    public void A_valid_manifest_has_no_errors() =>
        Assert.That(ManifestSchemas.ValidateManifestJson(Valid), Is.Empty);

    [Test]
    public void The_seed_example_without_an_id_is_told_to_add_one()
    {
        var error = SingleError("""
            {
              "name": "Your driver's name",
              "description": "The description of your driver.",
              "options": {
                "my_option": { "name": "Option's name", "description": "The description of the option", "type": "string" },
                "another_option": { "name": "Another option", "description": "The description", "type": "enumerate", "values": ["foo", "bar"], "default": "foo" },
              }
            }
            """);
        Assert.That(error, Does.StartWith("$: missing required property 'id'"));
    }

    [TestCase("Bad Id")]
    [TestCase("1abc")]
    [TestCase("UPPER")]
    public void The_id_must_be_a_lowercase_name(string id) =>
        Assert.That(SingleError($$"""{ "id": "{{id}}", "name": "n", "description": "d" }"""),
            Does.StartWith($"$.id: '{id}' is not a valid id"));

    [Test]
    public void An_enumerate_without_values_is_reported() =>
        Assert.That(SingleError(WithOption("""{ "description": "x", "type": "enumerate" }""")),
            Does.StartWith("$.options.o: an enumerate option needs 'values'"));

    [Test]
    public void Values_on_another_type_are_reported() =>
        Assert.That(SingleError(WithOption("""{ "description": "x", "type": "string", "values": ["a"] }""")),
            Does.StartWith("$.options.o: 'values' only belongs to enumerate options"));

    [Test]
    public void An_empty_values_list_is_reported() =>
        Assert.That(SingleError(WithOption("""{ "description": "x", "type": "enumerate", "values": [] }""")),
            Does.StartWith("$.options.o.values: must list at least one value"));

    [Test]
    public void A_bad_type_is_reported_once() =>
        Assert.That(SingleError(WithOption("""{ "description": "x", "type": "texte" }""")),
            Does.StartWith("$.options.o.type: 'texte' is not an option type; use integer, float, boolean, string or enumerate"));

    [Test]
    public void A_missing_type_is_reported_once() =>
        Assert.That(SingleError(WithOption("""{ "description": "x" }""")),
            Does.StartWith("$.options.o: missing required property 'type'"));

    [Test]
    public void A_missing_description_is_reported() =>
        Assert.That(SingleError(WithOption("""{ "type": "string" }""")),
            Does.StartWith("$.options.o: missing required property 'description'"));

    [TestCase("""{ "description": "x", "type": "integer", "default": "abc" }""", "the default \"abc\" is not an integer")]
    [TestCase("""{ "description": "x", "type": "integer", "default": 1.5 }""", "the default 1.5 is not an integer")]
    [TestCase("""{ "description": "x", "type": "float", "default": true }""", "the default true is not a number")]
    [TestCase("""{ "description": "x", "type": "boolean", "default": "yes" }""", "the default \"yes\" is not a boolean")]
    [TestCase("""{ "description": "x", "type": "string", "default": 3 }""", "the default 3 is not a string")]
    [TestCase("""{ "description": "x", "type": "enumerate", "values": ["a", "b"], "default": "c" }""", "the default \"c\" is not one of the values: a, b")]
    public void A_default_of_the_wrong_type_is_reported(string option, string expected) =>
        Assert.That(SingleError(WithOption(option)), Does.StartWith("$.options.o.default: " + expected));

    [Test]
    public void A_default_of_a_non_scalar_type_is_reported() =>
        Assert.That(SingleError(WithOption("""{ "description": "x", "type": "string", "default": [1] }""")),
            Does.StartWith("$.options.o.default: a default must be a number, a boolean, a string or null"));

    [Test]
    public void A_misspelt_property_is_reported_with_a_suggestion()
    {
        var error = SingleError(WithOption("""{ "description": "x", "type": "string", "defualt": "a" }"""));
        Assert.That(error, Does.StartWith("$.options.o.defualt: unknown property 'defualt' (did you mean 'default'?)"));
    }

    [Test]
    public void Errors_carry_the_line()
    {
        var error = SingleError("{\n  \"id\": \"d\",\n  \"name\": \"n\",\n  \"description\": \"x\",\n  \"options\": {\n    \"o\": { \"description\": \"x\", \"type\": \"texte\" }\n  }\n}");
        Assert.That(error, Does.EndWith("(line 6)"));
    }

    [Test]
    public void Several_problems_are_reported_together()
    {
        var errors = ManifestSchemas.ValidateManifestJson("""
            { "id": "Bad", "description": 3, "options": { "a": { "description": "x", "type": "enumerate" }, "b": { "description": "x", "type": "integer", "default": "z" } } }
            """);
        Assert.That(errors, Has.Count.EqualTo(5), string.Join(Environment.NewLine, errors));
    }

    [Test]
    public void Invalid_json_is_reported() =>
        Assert.That(SingleError("{ \"id\": "), Does.Contain("not valid JSON"));

    [Test]
    public void A_property_written_twice_is_reported() =>
        Assert.That(SingleError("""{ "id": "d", "name": "n", "id": "e", "description": "x" }"""), Does.Contain("'id' is written twice"));

    [Test]
    public void The_schema_of_manifests_is_published() =>
        Assert.That(ManifestSchemas.ManifestSchemaJson, Does.Contain("\"enumerate\""));
}

public class ShippedManifestTests
{
    [Test]
    public void The_local_storage_manifest_satisfies_the_schema_of_manifests()
    {
        var assembly = System.Reflection.Assembly.Load("Onitu.Drivers.LocalStorage");
        using var stream = assembly.GetManifestResourceStream("Onitu.Drivers.LocalStorage.manifest.json");
        Assert.That(stream, Is.Not.Null);
        using var reader = new StreamReader(stream!);
        Assert.That(ManifestSchemas.ValidateManifestJson(reader.ReadToEnd()), Is.Empty);
    }
}
