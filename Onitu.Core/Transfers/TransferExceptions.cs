namespace Onitu.Transfers;

/// <summary>No ready service holds the version to send; <see cref="SourcesStarting"/> when one is still scanning.</summary>
internal sealed class NoSourceException(bool sourcesStarting, string message) : OnituException(message)
{
    public bool SourcesStarting { get; } = sourcesStarting;
}

/// <summary>A driver call failed; <see cref="Service"/> says on which service.</summary>
internal sealed class ServiceCallException(string service, Exception inner) : Exception($"{service}: {inner.Message}", inner)
{
    public string Service { get; } = service;

    /// <summary>Whether the failure was already counted against the service's health (so it is not counted twice).</summary>
    public bool Reported { get; set; }
}
