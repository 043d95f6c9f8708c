using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Onitu.State;

/// <summary>
/// The JSON the state database is given (lists for <c>json_each</c>, a file's extra metadata), written and read with
/// <see cref="Utf8JsonWriter"/> and <see cref="Utf8JsonReader"/> rather than <see cref="JsonSerializer"/>: the same
/// text, without the serializer's reflection-based set-up, which took milliseconds of every start (and dozens of
/// methods compiled at run time) for a list of strings.
/// </summary>
internal static class JsonText
{
    /// <summary>A JSON array of <paramref name="values"/> (as <c>JsonSerializer.Serialize</c> writes it).</summary>
    public static string Array(IEnumerable<string> values)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            foreach (var value in values)
                writer.WriteStringValue(value);
            writer.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>A JSON object of string properties (as <c>JsonSerializer.Serialize</c> writes a dictionary of strings).</summary>
    public static string Object(IEnumerable<KeyValuePair<string, string>> properties)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (key, value) in properties)
                writer.WriteString(key, value);
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Reads a JSON object of string properties into <paramref name="into"/>.</summary>
    /// <exception cref="JsonException">The text is not such an object.</exception>
    public static void ReadObject(string json, IDictionary<string, string> into)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json));
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            throw new JsonException("Expected a JSON object of strings.");
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var key = reader.TokenType == JsonTokenType.PropertyName ? reader.GetString()! : throw new JsonException("Expected a property name.");
            if (!reader.Read() || reader.TokenType != JsonTokenType.String)
                throw new JsonException($"Expected a string for '{key}'.");
            into[key] = reader.GetString()!;
        }
    }
}
