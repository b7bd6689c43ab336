using System.CommandLine;
using Lab.Load.Cli;
using Microsoft.AspNetCore.Builder;
using Spectre.Console;

namespace Lab.Load.Tests;

[Collection("load runs")]
public sealed class CommandTests
{
    private static (RootCommand Root, StringWriter Output) Create(LoadDefaults? defaults = null)
    {
        var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = 200;
        var root = new RootCommand("test") { LoadCommandFactory.Create(() => defaults ?? new LoadDefaults(), console) };
        return (root, output);
    }

    private static async Task<(int Exit, string Output)> Run(params string[] args)
    {
        var (root, output) = Create();
        var exit = await root.Parse(["load", .. args]).InvokeAsync();
        return (exit, output.ToString());
    }

    [Fact]
    public async Task Passing_thresholds_exit_zero_and_reports_are_written()
    {
        await using var server = await TestServer.StartAsync(app => app.MapGet("/", () => "ok"));
        var dir = Path.Combine(Path.GetTempPath(), "lab-load-cmd-" + Guid.NewGuid().ToString("n"));
        try
        {
            var (exit, output) = await Run("--target", server.Address.ToString(), "--mix", "get=1", "--rate", "50/s", "--duration", "1s",
                "--threshold", "errors<1%", "--threshold", "p99<30s", "--out", dir, "--seed", "1");
            Assert.True(exit == 0, output);
            Assert.Contains("✓ threshold errors<1%", output);
            Assert.Contains("Journeys and steps", output);
            Assert.True(File.Exists(Path.Combine(dir, "report.json")));
            Assert.True(File.Exists(Path.Combine(dir, "report.html")));
            Assert.True(File.Exists(Path.Combine(dir, "latency.hgrm")));
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Output_json_prints_the_report_document_and_nothing_else()
    {
        await using var server = await TestServer.StartAsync(app => app.MapGet("/", () => "ok"));
        var (exit, output) = await Run("--target", server.Address.ToString(), "--mix", "get=1", "--rate", "50/s", "--duration", "1s",
            "--threshold", "errors<1%", "--seed", "1", "--output", "json");
        Assert.True(exit == 0, output);
        using var report = System.Text.Json.JsonDocument.Parse(output); // the whole output is one JSON document
        Assert.True(report.RootElement.GetProperty("passed").GetBoolean());
        Assert.True(report.RootElement.GetProperty("schemaVersion").GetInt32() >= 1);

        (exit, output) = await Run("--target", server.Address.ToString(), "--rate", "fast", "--output", "json");
        Assert.NotEqual(0, exit);
        using var error = System.Text.Json.JsonDocument.Parse(output);
        Assert.Contains("rate", error.RootElement.GetProperty("error").GetString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_failing_threshold_exits_99_and_names_the_threshold()
    {
        await using var server = await TestServer.StartAsync(app => app.MapGet("/", async () =>
        {
            await Task.Delay(5);
            return "ok";
        }));
        var (exit, output) = await Run("--target", server.Address.ToString(), "--mix", "get=1", "--rate", "40/s", "--duration", "1s",
            "--threshold", "errors<1%", "--threshold", "p50<1us");
        Assert.Equal(LoadExitCodes.ThresholdsFailed, exit);
        Assert.Contains("threshold failed: p50<1us (all requests:", output);
        Assert.DoesNotContain("threshold failed: errors<1%", output);
    }

    [Theory]
    [InlineData(new[] { "--rate", "fast" }, "Invalid --rate 'fast'")]
    [InlineData(new[] { "--ramp", "10/s" }, "Invalid ramp '10/s'")]
    [InlineData(new[] { "--duration", "forever" }, "Invalid --duration 'forever'")]
    [InlineData(new[] { "--mix", "browse=50,shopping=50" }, "Unknown journey 'shopping'")]
    [InlineData(new[] { "--mix", "browse=x" }, "Invalid weight in --mix")]
    [InlineData(new[] { "--preset", "weekend" }, "Unknown preset 'weekend'")]
    [InlineData(new[] { "--threshold", "p99 under 1s" }, "Invalid threshold 'p99 under 1s'")]
    [InlineData(new[] { "--at", "5s", "explode", "x" }, "the action must be 'enable' or 'disable'")]
    [InlineData(new[] { "--users", "3", "--rate", "5/s" }, "not both")]
    public async Task Usage_errors_exit_2_with_a_message_and_no_stack_trace(string[] args, string message)
    {
        var (exit, output) = await Run(args);
        Assert.Equal(LoadExitCodes.UsageError, exit);
        Assert.Contains("error: ", output);
        Assert.Contains(message, output);
        Assert.DoesNotContain("   at ", output);
    }

    [Fact]
    public async Task An_unreachable_target_exits_3()
    {
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();

        var (exit, output) = await Run("--target", $"http://127.0.0.1:{port}", "--duration", "1s");
        Assert.Equal(LoadExitCodes.TargetUnreachable, exit);
        Assert.Contains($"Cannot reach the target http://127.0.0.1:{port}", output);
        Assert.DoesNotContain("   at ", output);
    }

    [Fact]
    public void Timeline_options_pair_each_set_with_its_mark()
    {
        var (root, _) = Create();
        var result = root.Parse(["load", "--at", "10s", "enable", "slow-db", "--set", "delay=50ms", "--set", "rate=10%", "--duration", "1m", "--at", "20s", "disable", "slow-db", "--at", "30s enable hot-key"]);
        Assert.Empty(result.Errors);
        var marks = LoadCommandFactory.TimelineTokens(result);
        Assert.Equal(3, marks.Count);
        Assert.Equal(["10s", "enable", "slow-db"], marks[0].Words);
        Assert.Equal(["delay=50ms", "rate=10%"], marks[0].Settings);
        Assert.Equal(["20s", "disable", "slow-db"], marks[1].Words);
        Assert.Empty(marks[1].Settings);
        Assert.Equal(["30s", "enable", "hot-key"], marks[2].Words);
    }

    [Fact]
    public void Every_documented_option_exists()
    {
        var load = LoadCommandFactory.Create();
        Assert.Equal("load", load.Name);
        string[] expected =
        [
            "--target", "--rate", "--ramp", "--users", "--think", "--duration", "--mix", "--preset", "--at", "--set", "--threshold", "--out", "--output",
            "--token", "--seed", "--max-in-flight", "--slowest", "--aspire-url", "--jaeger-url", "--timeout", "--warmup", "--transport", "--no-progress",
        ];
        Assert.Equal(expected.Order(), load.Options.Select(o => o.Name).Order());
    }
}
