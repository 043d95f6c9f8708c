using System.CommandLine;
using Onitu.Cli.Commands;

var root = new RootCommand("Onitu keeps folders in sync between local disks, SSH servers and other stores, by the rules of a setup file.")
{
    RunCommand.Create(),
    SyncCommand.Create(),
    ValidateCommand.Create(),
    DriversCommand.Create(),
};
return await root.Parse(args).InvokeAsync();
