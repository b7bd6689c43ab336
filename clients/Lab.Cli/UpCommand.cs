using System.CommandLine;
using Lab.Cli.Launch;

namespace Lab.Cli;

public static class UpCommand
{
    public static Command Create()
    {
        var topology = new TopologyOptions();
        var command = new Command("up", "Start the embedded lab: 2 silos, storefront, payments and the Aspire dashboard, on loopback.");
        topology.AddTo(command);
        command.SetAction((result, cancellationToken) =>
            LabSession.RunAsync(topology.Read(result), (_, _) => Task.FromResult(0), waitForStop: true, cancellationToken));
        return command;
    }
}
