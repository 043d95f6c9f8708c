namespace Onitu.Core.Tests.Rules;

using Onitu.Rules;

public class AccessModeTests
{
    [TestCase("r", AccessMode.Read)]
    [TestCase("w", AccessMode.Write)]
    [TestCase("rw", AccessMode.ReadWrite)]
    [TestCase("wr", AccessMode.ReadWrite)]
    [TestCase("RW", AccessMode.ReadWrite)]
    [TestCase(" r ", AccessMode.Read)]
    [TestCase("", AccessMode.None)]
    public void Parses_the_setup_spelling(string text, AccessMode expected)
    {
        Assert.That(AccessModes.TryParse(text, out var mode), Is.True);
        Assert.That(mode, Is.EqualTo(expected));
        Assert.That(AccessModes.Parse(text), Is.EqualTo(expected));
    }

    [TestCase("x")]
    [TestCase("rr")]
    [TestCase("rwx")]
    [TestCase("read")]
    public void Refuses_anything_else(string text)
    {
        Assert.That(AccessModes.TryParse(text, out _), Is.False);
        Assert.That(() => AccessModes.Parse(text), Throws.TypeOf<FormatException>().With.Message.Contains(text));
    }

    [Test]
    public void Round_trips_to_the_setup_spelling()
    {
        Assert.That(AccessMode.Read.ToSetupString(), Is.EqualTo("r"));
        Assert.That(AccessMode.Write.ToSetupString(), Is.EqualTo("w"));
        Assert.That(AccessMode.ReadWrite.ToSetupString(), Is.EqualTo("rw"));
        Assert.That(AccessModes.Default, Is.EqualTo(AccessMode.ReadWrite));
    }
}
