namespace Onitu.Core.Tests.Rules;

using Onitu.Rules;

public class SizeParserTests
{
    [TestCase("1", 1L)]
    [TestCase("3", 3L)]
    [TestCase("0", 0L)]
    [TestCase("1k", 1000L)]
    [TestCase("1K", 1000L)]
    [TestCase("1Ki", 1024L)]
    [TestCase("1ki", 1024L)]
    [TestCase("1.5k", 1500L)]
    [TestCase("1.5M", 1_500_000L)]
    [TestCase("10MiB", 10L * 1024 * 1024)]
    [TestCase("10 MiB", 10L * 1024 * 1024)]
    [TestCase("2 G", 2_000_000_000L)]
    [TestCase("2GB", 2_000_000_000L)]
    [TestCase("1Gi", 1024L * 1024 * 1024)]
    [TestCase("1TiB", 1024L * 1024 * 1024 * 1024)]
    [TestCase("1T", 1_000_000_000_000L)]
    [TestCase("1P", 1_000_000_000_000_000L)]
    [TestCase("1Pi", 1024L * 1024 * 1024 * 1024 * 1024)]
    [TestCase("0.5Ki", 512L)]
    [TestCase("7 kB", 7000L)]
    [TestCase("  42b  ", 42L)]
    [TestCase("10B", 10L)]
    [TestCase("1.1Ki", 1126L)] // 1126.4 bytes, rounded down
    [TestCase("9223372036854775807", long.MaxValue)]
    public void Parses_numbers_with_metric_and_iec_suffixes(string text, long expected)
    {
        Assert.That(SizeParser.Parse(text), Is.EqualTo(expected));
        Assert.That(SizeParser.TryParse(text, out var bytes), Is.True);
        Assert.That(bytes, Is.EqualTo(expected));
    }

    [TestCase("")]
    [TestCase("   ")]
    [TestCase("abc")]
    [TestCase("k")]
    [TestCase("-1")]
    [TestCase("-1k")]
    [TestCase("1X")]
    [TestCase("1m")] // milli, not mega: refused rather than guessed
    [TestCase("1MB2")]
    [TestCase("1.2.3")]
    [TestCase("1e6")]
    [TestCase("9223372036854775808")]
    [TestCase("99999999999999999999P")]
    [TestCase("10000000Pi")]
    [TestCase("1 k B")]
    public void Refuses_garbage_negative_and_overflow_with_the_text_in_the_message(string text)
    {
        Assert.That(SizeParser.TryParse(text, out _), Is.False);
        Assert.That(() => SizeParser.Parse(text), Throws.TypeOf<FormatException>().With.Message.Contains($"'{text}'"));
    }

    [Test]
    public void Negative_sizes_are_explained() =>
        Assert.That(() => SizeParser.Parse("-5"), Throws.TypeOf<FormatException>().With.Message.Contains("negative"));

    [Test]
    public void TryParse_of_null_is_false() => Assert.That(SizeParser.TryParse(null, out _), Is.False);
}
