using System.CommandLine;
using System.Runtime.InteropServices;
using Onitu.Cli.Commands;

// Ctrl+C and SIGTERM ask for a graceful stop: the engine stops its transfers at a resumable point and the command
// exits normally. (System.CommandLine's own handling would end the process with code 130 instead.)
using var shutdown = new CancellationTokenSource();
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, RequestStop);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, RequestStop);

var root = new RootCommand("Onitu keeps folders in sync between local disks, SSH servers and other stores, by the rules of a setup file.")
{
    RunCommand.Create(),
    SyncCommand.Create(),
    ValidateCommand.Create(),
    DriversCommand.Create(),
};
var invocation = new InvocationConfiguration { ProcessTerminationTimeout = null };
return await root.Parse(args).InvokeAsync(invocation, shutdown.Token);

void RequestStop(PosixSignalContext context)
{
    if (shutdown.IsCancellationRequested)
        return; // a second Ctrl+C ends the process the usual way
    context.Cancel = true;
    shutdown.Cancel();
}
