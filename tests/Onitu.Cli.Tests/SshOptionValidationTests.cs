namespace Onitu.Cli.Tests;

/// <summary>
/// The ssh driver's options are checked by the real <c>onitu</c> before anything starts: every invalid value the
/// issue lists is refused with exit code 1, naming the service and the option — by <c>validate</c>, and by
/// <c>sync</c> before it connects anywhere.
/// </summary>
public class SshOptionValidationTests : ScratchTest
{
    [SetUp]
    public void WriteTestKey()
    {
        File.WriteAllText(Path.Combine(Dir, "id_test"), "not a real key: only its existence is checked\n");
    }

    // /bin/sh stands in for ssh: validation must not depend on the machine having an OpenSSH client.
    private string WriteSetup(string option = "") =>
        WriteFile("setup.yml", $"""
            name: ssh-options
            folders:
              docs: {"{}"}
            services:
              local:
                driver: local_storage
                options: {"{ root: local }"}
                folders: {"{ docs: docs }"}
              nas:
                driver: ssh
                options:
                  host: files.example.org
                  ssh-path: /bin/sh
                  {(option.StartsWith("identity-file:", StringComparison.Ordinal) ? option : "identity-file: id_test\n      " + option)}
                folders: {"{ docs: /srv/docs }"}
            """);

    private string WriteFile(string name, string text)
    {
        var path = Path.Combine(Dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Test]
    public async Task A_good_ssh_setup_is_valid_without_user_or_root()
    {
        using var run = await OnituProcess.RunAsync(Dir, "validate", WriteSetup());
        Assert.That(run.ExitCode, Is.Zero, run.Output);
    }

    [TestCase("port: 70000", "port", "between 1 and 65535", TestName = "port 70000 is refused")]
    [TestCase("port: -1", "port", "between 1 and 65535", TestName = "port -1 is refused")]
    [TestCase("poll-interval-ms: -5", "poll-interval-ms", "between 10 and 3600000", TestName = "a negative poll interval is refused")]
    [TestCase("request-size: 1e9", "request-size", "between 0 and 262144", TestName = "request-size 1e9 is refused")]
    [TestCase("request-size: 100", "request-size", "between 1024 and 262144", TestName = "request-size below 1024 is refused")]
    [TestCase("connections: 0", "connections", "between 1 and 16", TestName = "zero connections are refused")]
    [TestCase("ssh-options: \"-o 'ProxyJump=a b\"", "ssh-options", "unclosed ' quote", TestName = "an unclosed quote in ssh-options is refused")]
    [TestCase("identity-file: no-such-key", "identity-file", "does not exist", TestName = "a missing identity file is refused")]
    [TestCase("timeout-s: 0", "timeout-s", "between 2 and 3600", TestName = "a zero timeout is refused")]
    public async Task An_invalid_option_is_refused_naming_the_service_and_the_option(string line, string option, string rule)
    {
        var setup = WriteSetup(line);
        using var run = await OnituProcess.RunAsync(Dir, "validate", setup);
        Assert.That(run.ExitCode, Is.EqualTo(1), run.Output);
        Assert.That(run.StandardError, Does.Contain($"services.nas.options.{option}").And.Contain(rule), run.Output);
        Assert.That(run.StandardError, Does.Contain("setup.yml:"), "the error gives the file and line");
    }

    [TestCase("\"\"", "must not be empty", TestName = "an empty host is refused")]
    [TestCase("\"-oProxyCommand=touch /tmp/owned\"", "must match the pattern", TestName = "a host ssh would read as an option is refused")]
    public async Task An_invalid_host_is_refused(string host, string rule)
    {
        var setup = WriteSetup();
        File.WriteAllText(setup, File.ReadAllText(setup).Replace("host: files.example.org", "host: " + host));
        using var run = await OnituProcess.RunAsync(Dir, "validate", setup);
        Assert.That(run.ExitCode, Is.EqualTo(1), run.Output);
        Assert.That(run.StandardError, Does.Contain("services.nas.options.host").And.Contain(rule), run.Output);
    }

    [TestCase("identity-file: no-such-key", "identity-file")]
    [TestCase("ssh-options: \"-o 'x\"", "ssh-options")]
    [TestCase("port: 70000", "port")]
    public async Task Sync_refuses_before_connecting_with_exit_code_1(string line, string option)
    {
        using var run = await OnituProcess.RunAsync(Dir, "sync", WriteSetup(line));
        Assert.That(run.ExitCode, Is.EqualTo(1), run.Output);
        Assert.That(run.StandardError, Does.Contain($"services.nas.options.{option}"), run.Output);
        Assert.That(Directory.Exists(Path.Combine(Dir, "local")), Is.False, "nothing started: the local service did not even scan");
    }
}

/// <summary>A failing service is reported in words; its stack trace is for <c>--verbose</c> only.</summary>
public class FailureOutputTests : ScratchTest
{
    [Test]
    public async Task A_failing_service_prints_no_stack_trace_unless_verbose()
    {
        var setup = Path.Combine(Dir, "setup.yml");
        File.WriteAllText(setup, """
            name: failing
            folders:
              docs: {}
            services:
              A:
                driver: local_storage
                options: { root: A }
                folders: { docs: docs }
              B:
                driver: local_storage
                options: { root: B }
                folders: { docs: docs }
            """);
        File.WriteAllText(Path.Combine(Dir, "B"), "a file where B's root directory should be");

        using var quiet = await OnituProcess.RunAsync(Dir, "sync", setup);
        Assert.That(quiet.ExitCode, Is.EqualTo(2), quiet.Output);
        Assert.That(quiet.StandardError, Does.Contain("Service B is failing"), quiet.Output);
        Assert.That(quiet.StandardError, Does.Not.Match(@"\bat Onitu\.[\w.]+\("), "no stack trace without --verbose");

        using var verbose = await OnituProcess.RunAsync(Dir, "sync", setup, "--verbose");
        Assert.That(verbose.StandardError, Does.Match(@"\bat Onitu\.[\w.]+\("), "--verbose shows where the failure came from");
    }
}
