using System.Collections.Concurrent;
using Onitu.Diagnostics;
using Onitu.Options;
using Onitu.Rules;
using Onitu.Services;
using Onitu.Setup;
using Onitu.Sync;

namespace Onitu;

/// <summary>Control of single services and of the rules of a running engine.</summary>
public sealed partial class SyncEngine
{
    private readonly ConcurrentDictionary<string, ServiceSwitch> _switches = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _control = new(1, 1);

    /// <summary>Whether the engine was started (<see cref="StartAsync"/>) and not stopped since.</summary>
    public bool IsRunning
    {
        get
        {
            lock (_lifecycle)
                return _running is not null && !_disposed;
        }
    }

    /// <summary>
    /// Stops one service of the running engine: its scan or watch ends, the transfers in flight from or to it stop at
    /// a resumable point (as at the engine's stop: a chunked upload keeps its saved offset), and no transfer starts
    /// from or to it until <see cref="StartServiceAsync"/>; the other services go on. Returns once nothing touches it
    /// any more. Its pending transfers, those stopped included, stay persisted and resume when it is started again.
    /// </summary>
    /// <exception cref="ServiceNotFoundException">No service has that name.</exception>
    /// <exception cref="ServiceStateConflictException">The engine is not running, or the service is stopped already.</exception>
    public async Task StopServiceAsync(string service, CancellationToken cancellationToken = default)
    {
        await _control.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var serviceSwitch = RunningSwitch(service);
            if (!serviceSwitch.Enabled)
                throw new ServiceStateConflictException(service, $"entry {service} is already stopped");
            await SwitchOffAsync(service, serviceSwitch, cancellationToken).ConfigureAwait(false);
            Log.ServiceControlled(_coordinator.Logger, service, "stopped");
        }
        finally
        {
            _control.Release();
        }
    }

    /// <summary>Starts a service stopped by <see cref="StopServiceAsync"/>: it scans, then watches.</summary>
    /// <exception cref="ServiceNotFoundException">No service has that name.</exception>
    /// <exception cref="ServiceStateConflictException">The engine is not running, or the service runs already.</exception>
    public async Task StartServiceAsync(string service, CancellationToken cancellationToken = default)
    {
        await _control.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var serviceSwitch = RunningSwitch(service);
            if (serviceSwitch.Enabled)
                throw new ServiceStateConflictException(service, $"entry {service} is already running");
            serviceSwitch.SwitchOn();
            Log.ServiceControlled(_coordinator.Logger, service, "started");
        }
        finally
        {
            _control.Release();
        }
    }

    /// <summary>
    /// Stops and starts a running service, as <see cref="StopServiceAsync"/> and <see cref="StartServiceAsync"/> do (a
    /// new driver scan follows; its transfers in flight resume).
    /// </summary>
    /// <exception cref="ServiceNotFoundException">No service has that name.</exception>
    /// <exception cref="ServiceStateConflictException">The engine or the service is not running.</exception>
    public async Task RestartServiceAsync(string service, CancellationToken cancellationToken = default)
    {
        await _control.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var serviceSwitch = RunningSwitch(service);
            if (!serviceSwitch.Enabled)
                throw new ServiceStateConflictException(service, $"entry {service} is not running");
            await SwitchOffAsync(service, serviceSwitch, cancellationToken).ConfigureAwait(false);
            serviceSwitch.SwitchOn();
            Log.ServiceControlled(_coordinator.Logger, service, "restarted");
        }
        finally
        {
            _control.Release();
        }
    }

    /// <summary>
    /// Makes a running service scan its store again (what it finds changed since is synced), without stopping it.
    /// </summary>
    /// <exception cref="ServiceNotFoundException">No service has that name.</exception>
    /// <exception cref="ServiceStateConflictException">The engine or the service is not running.</exception>
    public Task RescanAsync(string service, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var serviceSwitch = RunningSwitch(service);
        if (!serviceSwitch.Enabled || !_coordinator.Hosts[service].RequestRescan())
            throw new ServiceStateConflictException(service, $"entry {service} is not running");
        Log.ServiceControlled(_coordinator.Logger, service, "rescanning");
        return Task.CompletedTask;
    }

    /// <summary>
    /// Applies the folders and rules of <paramref name="setup"/> to the engine, running or not, keeping its event
    /// subscribers and its state. The services must stay the same (names, drivers, options and mapped folder paths:
    /// changing those needs a new engine). Every known file is then checked against the new rules: a file they
    /// now send to a service that lacks it is sent; nothing is deleted because a rule stopped matching.
    /// </summary>
    /// <returns>How many transfers the new rules added.</returns>
    /// <exception cref="SetupException">The new setup is invalid, or changes what a reload cannot change.</exception>
    public async Task<long> ReloadAsync(OnituSetup setup, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(setup);
        await _control.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var errors = SetupValidator.Validate(setup, id => Drivers.Find(id)?.Manifest, Drivers.Ids, out _).ToList();
            errors.AddRange(ReloadCompatibility.Check(Setup, setup));
            if (errors.Count > 0)
                throw new SetupException(errors);

            var referee = new Referee(setup);
            _coordinator.ReplaceRules(referee);
            Setup = setup;
            var added = await Reconciler.RunAsync(_coordinator, referee, cancellationToken).ConfigureAwait(false);
            await Reconciler.RecordAsync(_coordinator, setup, cancellationToken).ConfigureAwait(false);
            Log.RulesReloaded(_coordinator.Logger, setup.Name, added);
            _scheduler.Signal();
            return added;
        }
        finally
        {
            _control.Release();
        }
    }

    /// <summary>Reads the setup file again (<see cref="OnituSetup.SourceFile"/>) and applies it as <see cref="ReloadAsync(OnituSetup, CancellationToken)"/> does.</summary>
    /// <exception cref="InvalidOperationException">The setup was not read from a file.</exception>
    public Task<long> ReloadAsync(CancellationToken cancellationToken = default)
    {
        var file = Setup.SourceFile ?? throw new InvalidOperationException("The engine's setup was not read from a file; give the new setup.");
        return ReloadAsync(LoadSetupFile(file, Drivers, cancellationToken), cancellationToken);
    }

    /// <summary>
    /// Ends the service's run (no new transfer starts from or to it once it is stopped), then stops the transfers
    /// already in flight from or to it, and waits for both.
    /// </summary>
    private async Task SwitchOffAsync(string service, ServiceSwitch serviceSwitch, CancellationToken cancellationToken)
    {
        await serviceSwitch.SwitchOff().WaitAsync(cancellationToken).ConfigureAwait(false);
        await _scheduler.StopJobsOfAsync(service).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private ServiceSwitch RunningSwitch(string service)
    {
        ArgumentNullException.ThrowIfNull(service);
        if (!_coordinator.Hosts.ContainsKey(service))
            throw new ServiceNotFoundException(service);
        if (!IsRunning || !_switches.TryGetValue(service, out var serviceSwitch))
            throw new ServiceStateConflictException(service, $"entry {service} is not running (the engine is not started)");
        return serviceSwitch;
    }

    /// <summary>Runs one service's host for the whole engine run, through the stops and starts it is given.</summary>
    private async Task RunServiceAsync(ServiceHost host, bool watch, CancellationToken engineStopping)
    {
        var serviceSwitch = new ServiceSwitch();
        _switches[host.Name] = serviceSwitch;
        while (!engineStopping.IsCancellationRequested)
        {
            if (serviceSwitch.BeginRun(engineStopping) is not { } runToken)
            {
                try
                {
                    await serviceSwitch.WaitForStartAsync(engineStopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                continue;
            }
            try
            {
                await host.RunAsync(watch, runToken).ConfigureAwait(false);
            }
            finally
            {
                serviceSwitch.EndRun();
            }
        }
        _switches.TryRemove(new KeyValuePair<string, ServiceSwitch>(host.Name, serviceSwitch));
    }
}
