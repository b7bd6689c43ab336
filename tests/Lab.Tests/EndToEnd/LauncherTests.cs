using System.Net;
using System.Net.Sockets;
using Lab.Cli.Launch;
using Lab.Tests.Support;

namespace Lab.Tests.EndToEnd;

public sealed class LauncherTests
{
    [Fact]
    public async Task A_port_in_use_is_a_clear_error_naming_the_port_and_nothing_starts()
    {
        using var directory = new TempDirectory("lab-port");
        var topology = LabProcessesFixture.FreeTopology(directory.Path, telemetryViewer: false, silos: 1);
        using var squatter = new TcpListener(IPAddress.Loopback, topology.PaymentsPort);
        squatter.Start();

        var error = await Assert.ThrowsAsync<LaunchException>(() => LabLauncher.StartAsync(topology));

        Assert.Contains($"Port {topology.PaymentsPort}", error.Message);
        Assert.Contains("--payments-port", error.Message);
        Assert.False(File.Exists(Path.Combine(directory.Path, "logs", "payments.log")));
    }

    [Fact]
    public async Task Stopping_the_lab_leaves_none_of_its_processes_running()
    {
        using var directory = new TempDirectory("lab-stop");
        await using var databases = new TestLabDatabases();
        var lab = await LabLauncher.StartAsync(LabProcessesFixture.FreeTopology(directory.Path, telemetryViewer: false, silos: 1, postgres: databases.Shop));
        var ids = lab.Processes.Select(process => process.Id).ToList();
        Assert.Equal(3, ids.Count);
        Assert.All(ids, id => Assert.True(IsRunning(id)));

        await lab.DisposeAsync();

        Assert.All(ids, id => Assert.False(IsRunning(id), $"process {id} still runs"));
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
