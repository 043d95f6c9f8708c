using System.Diagnostics;
using System.Text;

namespace Onitu.Cli.Tests;

/// <summary>Runs the real <c>onitu</c> executable (built beside the tests) as a child process.</summary>
internal sealed class OnituProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private OnituProcess(string workingDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "onitu.dll"));
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_stdout) _stdout.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string StandardOutput { get { lock (_stdout) return _stdout.ToString(); } }
    public string StandardError { get { lock (_stderr) return _stderr.ToString(); } }
    public string Output => StandardOutput + StandardError;
    public int ExitCode => _process.ExitCode;
    public int ProcessId => _process.Id;
    public bool HasExited => _process.HasExited;

    public static OnituProcess Start(string workingDirectory, params string[] arguments) => new(workingDirectory, arguments);

    /// <summary>Runs to completion and returns the finished process.</summary>
    public static async Task<OnituProcess> RunAsync(string workingDirectory, params string[] arguments)
    {
        var process = Start(workingDirectory, arguments);
        await process.WaitAsync(TimeSpan.FromSeconds(120 * TimeUnit));
        return process;
    }

    public async Task WaitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            Assert.Fail($"onitu did not exit within {timeout}. Output:\n{Output}");
        }
        _process.WaitForExit(); // flushes the redirected streams
    }

    /// <summary>Kills the process hard (SIGKILL): no shutdown code runs.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    /// <summary>Asks the process to stop as Ctrl+C would (SIGINT).</summary>
    public void Interrupt()
    {
        using var kill = Process.Start("kill", ["-INT", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>Asks the process to stop as a service manager would (SIGTERM).</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public static double TimeUnit =>
        double.TryParse(Environment.GetEnvironmentVariable("ONITU_TEST_TIME_UNIT"), System.Globalization.CultureInfo.InvariantCulture, out var unit) && unit > 0 ? unit : 1;

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
