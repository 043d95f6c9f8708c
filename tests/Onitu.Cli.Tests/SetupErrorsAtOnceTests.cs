namespace Onitu.Cli.Tests;

/// <summary>
/// The real <c>onitu validate</c> and <c>onitu sync</c> report every independent problem of a setup in one pass, in the
/// order of the file: a broken folder rule does not hide a service's option errors, nor does an option the manifest
/// refuses hide what the driver's own check finds in the service's other options. Each problem is printed once, and a
/// problem that follows from another (options of an unknown driver, of an 'options' that is not a mapping) is not.
/// </summary>
public class SetupErrorsAtOnceTests : ScratchTest
{
    private string WriteSetup(string name, string text)
    {
        var path = Path.Combine(Dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>Runs validate and sync on the setup: both exit 1 and print exactly these problems, in this order.</summary>
    private async Task AssertProblems(string setup, params string[] expected)
    {
        foreach (var command in new[] { "validate", "sync" })
        {
            using var run = await OnituProcess.RunAsync(Dir, command, setup);
            Assert.That(run.ExitCode, Is.EqualTo(1), $"{command}: {run.Output}");
            var lines = run.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.That(lines, Has.Length.EqualTo(expected.Length), $"{command}: one line per problem, no more:\n{run.StandardError}");
            for (var i = 0; i < expected.Length; i++)
                Assert.That(lines[i], Does.StartWith(setup + expected[i]), $"{command}: problem {i + 1} of\n{run.StandardError}");
        }
        Assert.That(Directory.EnumerateFileSystemEntries(Dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { Path.GetFileName(setup) }),
            "nothing ran: no state database, no service directory");
    }

    [Test]
    public async Task A_folder_rule_error_does_not_hide_a_services_unknown_and_missing_options()
    {
        var setup = WriteSetup("setup.yml", """
            name: t
            folders:
              docs:
                max-size: huge
            services:
              a:
                driver: local_storage
                options: { rooot: a }
                folders: { docs: d }
            """);
        await AssertProblems(setup,
            ":4: folders.docs.max-size: 'huge' is not a size",
            ":8: services.a.options: missing mandatory option 'root'",
            ":8: services.a.options.rooot: unknown option 'rooot' (did you mean 'root'?");
    }

    [Test]
    public async Task Mode_and_undeclared_folder_errors_do_not_hide_unknown_driver_option_and_size_errors()
    {
        var setup = WriteSetup("setup.yml", """
            name: t
            folders:
              docs: {}
            services:
              a:
                driver: local_storage
                options: { root: a, fsync: sometimes }
                folders:
                  docs: { path: d, mode: x, min-size: 10, max-size: 5 }
                  nope: n
              b:
                driver: sftp
                options: { root: b }
                folders: { docs: d }
            """);
        await AssertProblems(setup,
            ":7: services.a.options.fsync: option 'fsync' must be true or false, got \"sometimes\"",
            ":9: services.a.folders.docs.mode: the mode must be 'r' (read), 'w' (write) or 'rw' (both), not 'x'",
            ":9: services.a.folders.docs.max-size: min-size (10 bytes) is greater than max-size (5 bytes)",
            ":10: services.a.folders.nope: the service 'a' maps the folder 'nope' that is not declared under 'folders'",
            ":12: services.b.driver: the service 'b' uses the unknown driver 'sftp'; known drivers: local_storage, s3, ssh");
    }

    [Test]
    public async Task In_a_json_setup_a_size_error_does_not_hide_an_option_of_the_wrong_type()
    {
        var setup = WriteSetup("setup.json", """
            {
              "name": "t",
              "folders": { "docs": { "max-size": "huge" } },
              "services": {
                "a": {
                  "driver": "local_storage",
                  "options": { "root": "a", "fsync": "yes" },
                  "folders": { "docs": "d" }
                }
              }
            }
            """);
        await AssertProblems(setup,
            ":3: folders.docs.max-size: 'huge' is not a size",
            ":7: services.a.options.fsync: option 'fsync' must be true or false, got \"yes\"");
    }

    [Test]
    public async Task An_option_out_of_range_does_not_hide_what_the_driver_finds_in_the_other_options()
    {
        var setup = WriteSetup("setup.yml", """
            name: t
            folders:
              docs: {}
            services:
              nas:
                driver: ssh
                options:
                  host: files.example.org
                  port: 0
                  ssh-path: /bin/sh
                  identity-file: no-such-key
                folders: { docs: /srv/docs }
              bucket:
                driver: s3
                options: { bucket: b, endpoint: "http://[::1" }
                folders: { docs: docs }
            """);
        await AssertProblems(setup,
            ":9: services.nas.options.port: option 'port' must be between 1 and 65535, got 0",
            ":11: services.nas.options.identity-file: option 'identity-file' names a file that does not exist: " + Path.Combine(Dir, "no-such-key"),
            ":15: services.bucket.options.bucket: option 'bucket' must have 3 to 63 characters",
            ":15: services.bucket.options.endpoint: option 'endpoint' is not a URL: http://[::1");
    }

    [Test]
    public async Task Problems_that_follow_from_another_are_not_reported()
    {
        // No "missing mandatory option 'root'" for options that are not a mapping, no option errors for an unknown
        // driver, and the driver's own check of a refused option is not a second line about it.
        var setup = WriteSetup("setup.yml", """
            name: t
            folders:
              docs: {}
            services:
              a:
                driver: local_storage
                options: 5
                folders: { docs: a }
              b:
                driver: local_storag
                options: { rooot: b }
                folders: { docs: b }
              c:
                driver: local_storage
                options: { root: c, debounce-ms: -5 }
                folders: { docs: c }
            """);
        await AssertProblems(setup,
            ":7: services.a.options: 'options' must be a mapping of driver option names to values",
            ":10: services.b.driver: the service 'b' uses the unknown driver 'local_storag' (did you mean 'local_storage'?)",
            ":15: services.c.options.debounce-ms: option 'debounce-ms' must be between 0 and 60000, got -5");
    }

    [Test]
    public async Task A_yaml_syntax_error_is_the_only_problem_reported()
    {
        var setup = WriteSetup("setup.yml", """
            name: t
            folders:
              docs: {}
            services:
              a:
                driver: local_storage
                options: { rooot: a
                folders: { docs: d }
            """);
        foreach (var command in new[] { "validate", "sync" })
        {
            using var run = await OnituProcess.RunAsync(Dir, command, setup);
            Assert.That(run.ExitCode, Is.EqualTo(1), run.Output);
            Assert.That(run.StandardError.Trim().Split('\n'), Has.Length.EqualTo(1), run.StandardError);
            Assert.That(run.StandardError, Does.Contain("YAML syntax error"), run.StandardError);
        }
    }

    [Test]
    public async Task The_error_example_of_the_setup_reference_is_what_validate_and_sync_print()
    {
        // docs/setup.md shows a setup in /tmp/onitu-example/ and what onitu prints for it: run it here and compare.
        const string exampleDirectory = "/tmp/onitu-example";
        var doc = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "setup.md")).ReplaceLineEndings("\n");
        var yamlStart = doc.IndexOf("```yaml\n", doc.IndexOf($"For this setup, in `{exampleDirectory}/`:", StringComparison.Ordinal), StringComparison.Ordinal) + "```yaml\n".Length;
        var yamlEnd = doc.IndexOf("```\n", yamlStart, StringComparison.Ordinal);
        var outputStart = doc.IndexOf("```\n", yamlEnd + 4, StringComparison.Ordinal) + 4;
        var output = doc[outputStart..doc.IndexOf("```\n", outputStart, StringComparison.Ordinal)];
        var setup = WriteSetup("setup.yml", doc[yamlStart..yamlEnd]);
        var expected = output.Replace(exampleDirectory, Dir, StringComparison.Ordinal).TrimEnd('\n').Split('\n');
        Assert.That(expected, Has.Length.GreaterThan(5), "the example was found in docs/setup.md");

        foreach (var command in new[] { "validate", "sync" })
        {
            using var run = await OnituProcess.RunAsync(Dir, command, setup);
            Assert.That(run.ExitCode, Is.EqualTo(1), run.Output);
            Assert.That(run.StandardError.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n'), Is.EqualTo(expected).AsCollection, command);
        }
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Onitu.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException("The repository root (Onitu.sln) was not found above " + AppContext.BaseDirectory);
    }
}
