namespace Onitu.Options;

/// <summary>The JSON Schema of driver manifests (the seed's manifest.json, with the id and secrets of Onitu for .NET).</summary>
internal static class ManifestMetaSchema
{
    // Draft 4, which NJsonSchema 10.7 implements. It has no if/then: "values is required for an enumerate and
    // forbidden otherwise" is a oneOf of the two cases.
    public const string Json = """
        {
          "$schema": "http://json-schema.org/draft-04/schema#",
          "title": "Onitu driver manifest",
          "description": "Describes a driver and the options a service of it takes.",
          "type": "object",
          "required": ["id", "name", "description"],
          "additionalProperties": false,
          "properties": {
            "$schema": { "type": "string" },
            "id": {
              "description": "The id a setup's 'driver:' names.",
              "type": "string",
              "pattern": "^[a-z][a-z0-9_\\-]*$"
            },
            "name": { "description": "The human-readable name.", "type": "string", "minLength": 1 },
            "description": { "description": "What the driver does.", "type": "string" },
            "entryType": { "description": "The full name of the driver's IDriverFactory type.", "type": "string", "minLength": 1 },
            "options": {
              "description": "The options of a service, by the key a setup writes them under.",
              "type": "object",
              "additionalProperties": { "$ref": "#/definitions/option" }
            }
          },
          "definitions": {
            "option": {
              "type": "object",
              "required": ["description", "type"],
              "additionalProperties": false,
              "properties": {
                "name": { "description": "The human-readable name.", "type": "string" },
                "description": { "description": "What the option does.", "type": "string" },
                "type": { "type": "string", "enum": ["integer", "float", "boolean", "string", "enumerate"] },
                "values": {
                  "description": "The possible values of an enumerate.",
                  "type": "array",
                  "items": { "type": "string" },
                  "minItems": 1,
                  "uniqueItems": true
                },
                "default": {
                  "description": "Makes the option optional; may be null.",
                  "type": ["integer", "number", "boolean", "string", "null"]
                },
                "secret": { "description": "The value is a password or a passphrase: never shown or logged.", "type": "boolean" },
                "minimum": { "description": "The smallest value of an integer or float option (inclusive).", "type": "number" },
                "maximum": { "description": "The largest value of an integer or float option (inclusive).", "type": "number" },
                "pattern": { "description": "A regular expression a string option's value must match (anchor it with ^...$).", "type": "string" },
                "minLength": { "description": "The fewest characters of a string option's value.", "type": "integer", "minimum": 0 },
                "maxLength": { "description": "The most characters of a string option's value.", "type": "integer", "minimum": 0 }
              },
              "oneOf": [
                { "properties": { "type": { "enum": ["enumerate"] } }, "required": ["values"] },
                { "properties": { "type": { "enum": ["integer", "float", "boolean", "string"] } }, "not": { "required": ["values"] } }
              ]
            }
          }
        }
        """;
}
