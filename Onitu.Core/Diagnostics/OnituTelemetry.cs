using System.Diagnostics;
using System.Reflection;

namespace Onitu.Diagnostics;

/// <summary>
/// The names under which Onitu publishes traces and metrics, for OpenTelemetry or any
/// <see cref="ActivityListener"/> / <see cref="System.Diagnostics.Metrics.MeterListener"/>:
/// <c>tracing.AddSource(OnituTelemetry.SourceName)</c>, <c>metrics.AddMeter(OnituTelemetry.MeterName)</c>.
/// </summary>
public static class OnituTelemetry
{
    /// <summary>The name of Onitu's <see cref="ActivitySource"/>: activities <c>onitu.scan</c> and <c>onitu.transfer</c>.</summary>
    public const string SourceName = "Onitu";

    /// <summary>
    /// The name of every engine's <see cref="System.Diagnostics.Metrics.Meter"/>; each measurement carries the
    /// setup's name as <c>onitu.setup</c>.
    /// </summary>
    public const string MeterName = "Onitu";

    internal static readonly string Version =
        typeof(OnituTelemetry).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";

    internal static readonly ActivitySource Source = new(SourceName, Version);

    /// <summary>A service's startup scan (or rescan).</summary>
    internal static Activity? StartScan(string service)
    {
        var activity = Source.StartActivity("onitu.scan");
        activity?.SetTag("onitu.service", service);
        return activity;
    }

    /// <summary>One job: an upload, a deletion or a move of a file on its target.</summary>
    internal static Activity? StartTransfer(string kind, string folder, string path, string target)
    {
        var activity = Source.StartActivity("onitu.transfer");
        if (activity is not null)
        {
            activity.SetTag("onitu.job.kind", kind);
            activity.SetTag("onitu.folder", folder);
            activity.SetTag("onitu.path", path);
            activity.SetTag("onitu.target", target);
        }
        return activity;
    }
}
