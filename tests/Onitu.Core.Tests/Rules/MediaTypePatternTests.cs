namespace Onitu.Core.Tests.Rules;

using Onitu.Rules;

public class MediaTypePatternTests
{
    [TestCase("image/png", "image/png", true)]
    [TestCase("image/png", "image/jpeg", false)]
    [TestCase("IMAGE/PNG", "image/png", true)]
    [TestCase("text/plain", "text/plain; charset=utf-8", true)]
    public void A_full_type_matches_itself_case_insensitively(string pattern, string type, bool expected) =>
        Assert.That(MediaTypePattern.IsMatch(pattern, type), Is.EqualTo(expected));

    [TestCase("audio/*", "audio/mpeg", true)]
    [TestCase("audio/*", "video/mp4", false)]
    [TestCase("*/xml", "text/xml", true)]
    [TestCase("*/xml", "text/html", false)]
    [TestCase("application/vnd.*", "application/vnd.ms-excel", true)]
    [TestCase("application/vnd.*", "application/pdf", false)]
    [TestCase("image/p?g", "image/png", true)]
    [TestCase("*", "application/octet-stream", true)]
    [TestCase("*/*", "application/octet-stream", true)]
    public void A_glob_matches_types(string pattern, string type, bool expected) =>
        Assert.That(MediaTypePattern.IsMatch(pattern, type), Is.EqualTo(expected));

    [TestCase("audio", "audio/ogg", true)]
    [TestCase("Audio", "audio/ogg", true)]
    [TestCase("audio", "audiox/ogg", false)]
    [TestCase("audio", "video/ogg", false)]
    [TestCase("text", "text/plain", true)]
    public void An_incomplete_type_means_every_subtype(string pattern, string type, bool expected) =>
        Assert.That(MediaTypePattern.IsMatch(pattern, type), Is.EqualTo(expected));

    [TestCase("image/png", true)]
    [TestCase("audio", true)]
    [TestCase("audio/*", true)]
    [TestCase("application/vnd.oasis.opendocument.text", true)]
    [TestCase("a/b/c", false)]
    [TestCase("image/", false)]
    [TestCase("/png", false)]
    [TestCase("image png", false)]
    public void Validates_patterns(string pattern, bool valid) =>
        Assert.That(MediaTypePattern.TryValidate(pattern, out _), Is.EqualTo(valid));
}
