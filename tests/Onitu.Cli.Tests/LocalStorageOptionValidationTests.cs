namespace Onitu.Cli.Tests;

/// <summary>
/// What the local_storage driver refuses, <c>onitu validate</c> refuses too, at the option's or the folder mapping's own
/// line and key, and <c>onitu sync</c> refuses the same way before anything starts: validate never says "valid" to a
/// setup sync then refuses.
/// </summary>
public class LocalStorageOptionValidationTests : ScratchTest
{
    private string WriteSetup(string text)
    {
        var path = Path.Combine(Dir, "setup.yml");
        File.WriteAllText(path, text);
        return path;
    }

    [TestCase(-5L, TestName = "A negative debounce is refused by validate and sync at the option")]
    [TestCase(60_001L, TestName = "A debounce over a minute is refused by validate and sync at the option")]
    public async Task An_out_of_range_debounce_is_refused_at_its_key(long debounce)
    {
        var setup = WriteSetup($$"""
            name: debounce
            folders:
              m: {}
            services:
              a:
                driver: local_storage
                options: { root: a, debounce-ms: {{debounce}} }
                folders: { m: m }
              b:
                driver: local_storage
                options: { root: b }
                folders: { m: m }
            """);
        foreach (var command in new[] { "validate", "sync" })
        {
            using var run = await OnituProcess.RunAsync(Dir, command, setup);
            Assert.That(run.ExitCode, Is.EqualTo(1), $"{command}: {run.Output}");
            Assert.That(run.StandardError, Does.Contain("setup.yml:7: services.a.options.debounce-ms: ")
                .And.Contain("between 0 and 60000").And.Contain(debounce.ToString(System.Globalization.CultureInfo.InvariantCulture)), $"{command}: {run.Output}");
        }
        Assert.That(Directory.Exists(Path.Combine(Dir, "b")), Is.False, "nothing started: the other service did not even scan");
    }

    [TestCase("m", "m", TestName = "Two folders mapped to one directory are refused by validate and sync at the mapping")]
    [TestCase("m", "m/inner", TestName = "A folder mapped inside another's directory is refused by validate and sync at the mapping")]
    [TestCase("m/inner", "m", TestName = "A folder mapped around another's directory is refused by validate and sync at the mapping")]
    public async Task Folders_that_overlap_on_disk_are_refused_at_the_later_mapping(string first, string second)
    {
        var setup = WriteSetup($"""
            name: overlap
            folders:
              m1: {"{}"}
              m2: {"{}"}
            services:
              a:
                driver: local_storage
                options: {"{ root: a }"}
                folders:
                  m1: {first}
                  m2: {second}
            """);
        foreach (var command in new[] { "validate", "sync" })
        {
            using var run = await OnituProcess.RunAsync(Dir, command, setup);
            Assert.That(run.ExitCode, Is.EqualTo(1), $"{command}: {run.Output}");
            Assert.That(run.StandardError, Does.Contain("setup.yml:11: services.a.folders.m2: ").And.Contain("overlap on disk"), $"{command}: {run.Output}");
        }
        Assert.That(Directory.Exists(Path.Combine(Dir, "a")), Is.False, "nothing started");
    }

    [Test]
    public async Task Sibling_folders_with_a_common_name_prefix_are_valid()
    {
        var setup = WriteSetup("""
            name: siblings
            folders:
              m1: {}
              m2: {}
            services:
              a:
                driver: local_storage
                options: { root: a }
                folders:
                  m1: music
                  m2: music-old
            """);
        using var run = await OnituProcess.RunAsync(Dir, "validate", setup);
        Assert.That(run.ExitCode, Is.Zero, run.Output);
    }
}
