using System.CommandLine;

namespace Lab.Cli;

public static class LabCommands
{
    public static RootCommand CreateRoot()
    {
        var root = new RootCommand("The Lab: a distributed-systems failure lab. Start it, drive it, break it, read the traces.");
        root.Subcommands.Add(UpCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        return root;
    }
}
