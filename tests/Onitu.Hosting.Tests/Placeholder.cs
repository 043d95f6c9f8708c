namespace Onitu.Hosting.Tests; public class Placeholder { [Test] public void T() => Assert.Pass(); }
