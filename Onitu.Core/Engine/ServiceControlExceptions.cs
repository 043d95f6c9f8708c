namespace Onitu;

/// <summary>A service name that the engine's setup does not declare.</summary>
public sealed class ServiceNotFoundException : OnituException
{
    /// <summary>Creates the exception for <paramref name="service"/>.</summary>
    public ServiceNotFoundException(string service)
        : base($"entry {service} not found") => Service = service;

    /// <summary>The unknown service name.</summary>
    public string Service { get; }
}

/// <summary>
/// A service (or the engine) is not in a state that allows the operation: starting a service that runs, stopping
/// one that is stopped, restarting or rescanning one that is not running, controlling services of an engine that is
/// not started.
/// </summary>
public sealed class ServiceStateConflictException : OnituException
{
    /// <summary>Creates the exception; <paramref name="message"/> says what is wrong, in the seed's words.</summary>
    public ServiceStateConflictException(string service, string message) : base(message) => Service = service;

    /// <summary>The service concerned.</summary>
    public string Service { get; }
}
