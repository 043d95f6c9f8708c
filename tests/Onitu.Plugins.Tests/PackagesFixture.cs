using System.Diagnostics;

namespace Onitu.Plugins.Tests;

/// <summary>Packs the driver packages once for every test of this assembly, with the real <c>dotnet pack</c>.</summary>
[SetUpFixture]
public sealed class PackagesFixture
{
    private static string? _feed;

    /// <summary>The folder holding the packed .nupkg files.</summary>
    public static string Feed => _feed ?? throw new InvalidOperationException("The packages were not packed.");

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static string Package(string id) =>
        Directory.EnumerateFiles(Feed, id + ".*.nupkg").SingleOrDefault(f => char.IsDigit(Path.GetFileName(f)[id.Length + 1]))
        ?? throw new FileNotFoundException($"No package {id} in {Feed}.");

    public static string LocalStorage => Package("Onitu.Drivers.LocalStorage");
    public static string Ssh => Package("Onitu.Drivers.Ssh");
    public static string S3 => Package("Onitu.Drivers.S3");
    public static string EchoA => Package("Onitu.TestDrivers.EchoA");
    public static string EchoB => Package("Onitu.TestDrivers.EchoB");
    public static string Future => Package("Onitu.TestDrivers.Future");

    [OneTimeSetUp]
    public async Task PackAsync()
    {
        var work = Path.Combine(Path.GetTempPath(), "onitu-plugin-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(work);
        // One solution, one `dotnet pack`: MSBuild builds the shared Onitu.Abstractions once and the drivers in parallel.
        var solution = Path.Combine(work, "drivers.slnx");
        string[] projects =
        [
            "Onitu.Drivers.LocalStorage/Onitu.Drivers.LocalStorage.csproj",
            "Onitu.Drivers.Ssh/Onitu.Drivers.Ssh.csproj",
            "Onitu.Drivers.S3/Onitu.Drivers.S3.csproj",
            "tests/TestDrivers/EchoA/Onitu.TestDrivers.EchoA.csproj",
            "tests/TestDrivers/EchoB/Onitu.TestDrivers.EchoB.csproj",
            "tests/TestDrivers/FutureDriver/Onitu.TestDrivers.Future.csproj",
        ];
        await File.WriteAllTextAsync(solution,
            "<Solution>\n" + string.Concat(projects.Select(p => $"  <Project Path=\"{Path.Combine(RepositoryRoot, p)}\" />\n")) + "</Solution>\n");
        var feed = Path.Combine(work, "feed");
#if DEBUG
        const string configuration = "Debug";
#else
        const string configuration = "Release";
#endif
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = RepositoryRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "pack", solution, "-c", configuration, "-o", feed, "--disable-build-servers", "-nologo", "-v:q" })
            start.ArgumentList.Add(arg);
        // The test host's MSBuild variables must not leak into the child build.
        foreach (var name in new[] { "MSBuildSDKsPath", "MSBUILD_EXE_PATH", "MSBuildExtensionsPath", "MSBuildLoadMicrosoftTargetsReadOnly", "VSTEST_HOST_DEBUG" })
            start.Environment.Remove(name);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
            Assert.Fail($"dotnet pack failed ({process.ExitCode}):\n{await stdout}\n{await stderr}");
        _feed = feed;
    }

    [OneTimeTearDown]
    public void CleanUp()
    {
        if (_feed is not null)
            TestPaths.TryDelete(Path.GetDirectoryName(_feed)!);
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Onitu.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException("Onitu.sln not found above " + TestContext.CurrentContext.TestDirectory);
    }
}

internal static class TestPaths
{
    public static string NewTemp()
    {
        var path = Path.Combine(Path.GetTempPath(), "onitu-plugin-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(path);
        return path;
    }

    public static void TryDelete(string path)
    {
        try
        {
            if (Directory.Exists(path))
                Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
