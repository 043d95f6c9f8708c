using Microsoft.Extensions.Logging;

namespace Onitu.Diagnostics;

/// <summary>Messages of service control and rule reloads (4xxx).</summary>
internal static partial class Log
{
    [LoggerMessage(4001, LogLevel.Information, "Service {Service}: {Action} on request")]
    public static partial void ServiceControlled(ILogger logger, string service, string action);

    [LoggerMessage(4002, LogLevel.Information, "Rules of setup {Setup} reloaded; {Added} transfers added by the new rules")]
    public static partial void RulesReloaded(ILogger logger, string setup, long added);
}
