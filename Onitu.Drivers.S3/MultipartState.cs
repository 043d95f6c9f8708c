using System.Text.Json;
using System.Text.Json.Serialization;

namespace Onitu.Drivers.S3;

/// <summary>
/// A chunked upload in progress, as kept in the driver's state store under <c>upload:&lt;key&gt;</c>: the multipart
/// upload's id and the parts the store acknowledged, so that a restarted process continues it instead of starting
/// over (the store's own part list is checked against it before anything is trusted).
/// </summary>
internal sealed class MultipartState
{
    [JsonPropertyName("id")]
    public required string UploadId { get; init; }

    /// <summary>The size of every part but the last.</summary>
    [JsonPropertyName("partSize")]
    public required long PartSize { get; init; }

    [JsonPropertyName("parts")]
    public List<StoredPart> Parts { get; init; } = [];

    /// <summary>
    /// The highest part number the store listed when the upload was resumed: parts past the kept ones that the rest of
    /// the upload does not send again stay on the store, unlisted.
    /// </summary>
    [JsonPropertyName("highest")]
    public int HighestStoredPart { get; init; }

    /// <summary>Whether the store holds parts the completion will not list.</summary>
    public bool HasUnlistedParts => HighestStoredPart > Parts.Count;

    /// <summary>The bytes the stored parts hold, from offset 0.</summary>
    public long StoredBytes => Parts.Sum(p => p.Size);

    public static string StateKey(string key) => "upload:" + key;

    public string Serialize() => JsonSerializer.Serialize(this, StateJson.Default.MultipartState);

    public static MultipartState? Parse(string? json)
    {
        if (json is null) return null;
        try
        {
            return JsonSerializer.Deserialize(json, StateJson.Default.MultipartState);
        }
        catch (JsonException)
        {
            return null; // an unreadable record is an upload that cannot resume: it starts over
        }
    }
}

/// <summary>One part the store acknowledged.</summary>
internal sealed record StoredPart(
    [property: JsonPropertyName("n")] int Number,
    [property: JsonPropertyName("etag")] string ETag,
    [property: JsonPropertyName("size")] long Size);

[JsonSerializable(typeof(MultipartState))]
internal sealed partial class StateJson : JsonSerializerContext;
