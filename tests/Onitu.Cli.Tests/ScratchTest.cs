namespace Onitu.Cli.Tests;

/// <summary>A test that runs <c>onitu</c> in a scratch directory of its own, removed after the test.</summary>
public abstract class ScratchTest
{
    /// <summary>The scratch directory: the child process's working directory, where setups and stores live.</summary>
    protected string Dir { get; private set; } = null!;

    [SetUp]
    public void CreateScratch()
    {
        Dir = Path.Combine(Path.GetTempPath(), "onitu-cli-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Dir);
    }

    [TearDown]
    public void RemoveScratch()
    {
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
