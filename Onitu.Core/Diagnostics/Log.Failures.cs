using Microsoft.Extensions.Logging;

namespace Onitu.Diagnostics;

/// <summary>How a service's failures are logged: the reason for everyone, the stack trace only at debug level.</summary>
internal static partial class Log
{
    [LoggerMessage(2051, LogLevel.Error, "Service {Service} failed and is not retried until it is restarted: {Reason}")]
    public static partial void ServiceFailedPermanently(ILogger logger, string service, string reason);

    [LoggerMessage(2052, LogLevel.Error, "Service {Service} is failing, retrying in {Delay}: {Reason}")]
    public static partial void ServiceFailingWithoutTrace(ILogger logger, string service, TimeSpan delay, string reason);

    [LoggerMessage(2053, LogLevel.Debug, "Service {Service}: the failure in full")]
    public static partial void ServiceFailureDetail(ILogger logger, string service, Exception exception);
}
