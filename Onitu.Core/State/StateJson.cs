using System.Text.Json;
using System.Text.Json.Serialization;

namespace Onitu.State;

/// <summary>
/// The JSON the state reads and writes: drivers' extra data (a string map per replica) and the string lists handed to
/// SQLite's <c>json_each</c> in queries. Source-generated, so that neither the first write of a run nor the first query
/// pays for System.Text.Json's reflection and the code it compiles (measured: 36 converter methods compiled at run time
/// during an initial sync).
/// </summary>
[JsonSerializable(typeof(IDictionary<string, string>))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(IEnumerable<string>))]
internal sealed partial class StateJson : JsonSerializerContext
{
    /// <summary>A JSON array of <paramref name="values"/>, for <c>json_each</c>.</summary>
    public static string Array(IEnumerable<string> values) => JsonSerializer.Serialize(values, Default.IEnumerableString);

    /// <summary>A string map as a JSON object (drivers' extra data).</summary>
    public static string Map(IDictionary<string, string> map) => JsonSerializer.Serialize(map, Default.IDictionaryStringString);

    /// <summary>Reads a JSON object written by <see cref="Map"/>.</summary>
    public static Dictionary<string, string> ReadMap(string json) => JsonSerializer.Deserialize(json, Default.DictionaryStringString)!;
}
