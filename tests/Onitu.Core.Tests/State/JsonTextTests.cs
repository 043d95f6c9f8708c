using System.Text.Json;
using Onitu.State;

namespace Onitu.Core.Tests.State;

/// <summary>The state's JSON is written as <see cref="JsonSerializer"/> writes it, so databases read the same either way.</summary>
public class JsonTextTests
{
    private static readonly string[] Awkward =
    [
        "", "plain", "with \"quotes\" and \\backslashes\\", "tab\tnew\nline\u0001", "<tag>&amp;'", "été/日本/😀", "a\u2028b", "\ud800",
    ];

    [Test]
    public void Arrays_are_written_as_the_serializer_writes_them()
    {
        Assert.That(JsonText.Array(Awkward), Is.EqualTo(JsonSerializer.Serialize(Awkward)));
        Assert.That(JsonText.Array([]), Is.EqualTo("[]"));
    }

    [Test]
    public void Objects_are_written_as_the_serializer_writes_them_and_read_back()
    {
        var extra = Awkward.Where(a => a != "\ud800").Select((a, i) => (Key: a + i, Value: a)).ToDictionary(p => p.Key, p => p.Value);

        var json = JsonText.Object(extra);
        var read = new Dictionary<string, string>();
        JsonText.ReadObject(json, read);

        Assert.That(json, Is.EqualTo(JsonSerializer.Serialize(extra)));
        Assert.That(read, Is.EqualTo(extra));
    }

    [Test]
    public void Something_else_than_an_object_of_strings_is_refused()
    {
        Assert.Throws<JsonException>(() => JsonText.ReadObject("[\"a\"]", new Dictionary<string, string>()));
        Assert.Throws<JsonException>(() => JsonText.ReadObject("{\"a\": 1}", new Dictionary<string, string>()));
    }
}
