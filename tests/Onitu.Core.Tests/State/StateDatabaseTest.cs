using Microsoft.Extensions.Logging.Abstractions;
using Onitu.State;

namespace Onitu.Core.Tests.State;

/// <summary>A test of the state database itself: each test has a directory of its own for it, deleted after the test.</summary>
public abstract class StateDatabaseTest
{
    /// <summary>The test's own directory.</summary>
    protected string Scratch { get; private set; } = null!;

    /// <summary>Where <see cref="OpenStore"/> keeps the database.</summary>
    protected string DatabasePath => Path.Combine(Scratch, "state.db");

    [SetUp]
    public void CreateScratch() =>
        Scratch = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "onitu-state-tests", Guid.NewGuid().ToString("N")[..12])).FullName;

    [TearDown]
    public void DeleteScratch() => Directory.Delete(Scratch, recursive: true);

    internal MetadataStore OpenStore() => MetadataStore.Open(DatabasePath, NullLogger.Instance);
}
