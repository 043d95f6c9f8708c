namespace Onitu.Transfers;

/// <summary>Checks what a driver's write and move handlers put back into the <see cref="Onitu.Metadata"/> they were given.</summary>
internal static class DriverResults
{
    /// <summary>
    /// Runs a write or move handler and refuses its result when it left <see cref="Onitu.Metadata.Revision"/> unset. The
    /// engine compares later writes and reports against that revision: without it the driver's own write reads as a
    /// change by someone else, and every following write as a conflict. A broken driver, not a failing store.
    /// </summary>
    /// <param name="handler">The handler call.</param>
    /// <param name="written">The metadata the handler was given (the destination's, for a move).</param>
    /// <param name="method">The driver method, for the message (<c>UploadFileAsync</c>).</param>
    public static async ValueTask RequireRevisionAsync(ValueTask handler, Onitu.Metadata written, string method)
    {
        await handler.ConfigureAwait(false);
        if (string.IsNullOrEmpty(written.Revision))
        {
            throw new DriverException(
                $"The driver's {method} returned without setting Metadata.Revision of {written}: a write or move must set the revision of what it wrote (see docs/writing-a-driver.md).");
        }
    }
}
