using System.Globalization;
using System.CommandLine;
using Lab.Load.Cli;
using Lab.Scenarios.Cli;

namespace Lab.Cli;

public static class LabCommands
{
    public static RootCommand CreateRoot()
    {
        var root = new RootCommand("The Lab: a distributed-systems failure lab. Start it, drive it, break it, read the traces.");
        root.Subcommands.Add(UpCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(LoadCommandFactory.Create(() => new LoadDefaults
        {
            Token = ScenarioCommandFactory.ResolveToken(Directory.GetCurrentDirectory()),
            // One folder per run under the lab's reports directory, where the control panel lists them.
            OutDirectory = Path.Combine(".lab", "reports", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)),
        }));
        var scenario = ScenarioCommandFactory.Create();
        scenario.Subcommands.Add(ScenarioDocsCommand.Create());
        root.Subcommands.Add(scenario);
        root.Subcommands.Add(ExperimentCommand.Create());
        root.Subcommands.Add(VerifyCommand.Create());
        return root;
    }
}
