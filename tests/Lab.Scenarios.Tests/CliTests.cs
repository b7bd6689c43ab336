using System.CommandLine;
using Lab.Scenarios;
using Lab.Scenarios.Cli;
using Lab.Scenarios.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

namespace Lab.Scenarios.Tests;

public sealed class CliTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private LabWebHost _host = null!;

    public async Task InitializeAsync() => _host = await LabWebHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task List_and_show_print_the_catalog_schema_and_runbook()
    {
        var (exit, text) = await RunAsync("list");
        Assert.Equal(0, exit);
        Assert.Contains("fixed-latency", text);
        Assert.Contains("error-burst", text);

        (exit, text) = await RunAsync("show", "error-burst");
        output.WriteLine(text);
        Assert.Equal(0, exit);
        Assert.Contains("Runbook", text);
        Assert.Contains("lab scenario enable error-burst", text);
        Assert.Contains("window", text);
        Assert.Contains("Not active", text);
    }

    [Fact]
    public async Task List_fits_an_80_column_terminal_one_whole_name_per_line_and_json_lists_the_catalog()
    {
        var (exit, text) = await RunAsync(80, "list");
        output.WriteLine(text);
        Assert.Equal(0, exit);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.TrimEnd('\r')).ToList();
        var names = _host.App.Services.GetRequiredService<ScenarioRegistry>().All.Select(s => s.Meta.Name).ToList();
        Assert.All(lines, line => Assert.True(line.Length <= 80, $"{line.Length} columns: {line}"));
        Assert.Equal(names.Count + 1, lines.Count); // a header, then one line per scenario
        Assert.All(names, name => Assert.Single(lines, line => line.StartsWith(name + " ", StringComparison.Ordinal)));

        (exit, text) = await RunAsync(80, "list", "--output", "json");
        Assert.Equal(0, exit);
        using var document = System.Text.Json.JsonDocument.Parse(text);
        Assert.Equal(names.Count, document.RootElement.GetArrayLength());
        Assert.Equal(names.Order(), document.RootElement.EnumerateArray().Select(s => s.GetProperty("meta").GetProperty("name").GetString()!).Order());

        (exit, text) = await RunAsync(80, "list", "--output", "yaml");
        Assert.NotEqual(0, exit);
        Assert.Contains("yaml", text);
    }

    [Fact]
    public async Task Help_says_where_the_token_comes_from_and_never_shows_one()
    {
        var (exit, text) = await RunAsync("list", "--help");
        Assert.Equal(0, exit);
        var tokenLine = text.Split('\n').Single(line => line.TrimStart().StartsWith("--token", StringComparison.Ordinal));
        Assert.Contains(ScenarioCommandFactory.TokenEnvironmentVariable, tokenLine);
        Assert.DoesNotContain("[default", tokenLine); // System.CommandLine shows a default value so
        Assert.DoesNotContain(LabWebHost.Token, text);
    }

    [Fact]
    public async Task Enable_status_change_history_disable_reset_work_end_to_end()
    {
        var (exit, text) = await RunAsync("enable", "fixed-latency", "--set", "delay=5ms", "--set", "jitter=1ms", "--target", "route=/api/none", "--ttl", "1m", "--seed", "4", "--token", LabWebHost.Token);
        Assert.True(exit == 0, text);
        Assert.Contains("fixed-latency enabled", text);

        (exit, text) = await RunAsync("status");
        output.WriteLine(text);
        Assert.Equal(0, exit);
        Assert.Contains("delay=5ms", text);
        Assert.Contains("route=/api/none", text);

        (exit, text) = await RunAsync("change", "fixed-latency", "--set", "delay=6ms", "--token", LabWebHost.Token);
        Assert.True(exit == 0, text);
        Assert.Contains("delay=6ms", text);

        (exit, text) = await RunAsync("disable", "fixed-latency", "--token", LabWebHost.Token);
        Assert.True(exit == 0, text);

        (exit, text) = await RunAsync("reset", "--token", LabWebHost.Token);
        Assert.True(exit == 0, text);

        (exit, text) = await RunAsync("history");
        Assert.Equal(0, exit);
        Assert.Contains("Enabled", text);
        Assert.Contains("Changed", text);
        Assert.Contains("Disabled", text);
        Assert.Contains("Reset", text);
        Assert.Contains("@cli", text);
    }

    [Theory]
    [InlineData(new[] { "enable", "fixed-latency", "--set", "delay=fast", "--token", LabWebHost.Token }, 1, "delay")]
    [InlineData(new[] { "enable", "fixed-latency", "--set", "delay=1s", "--token", "nope" }, 1, "401")]
    [InlineData(new[] { "enable", "fixed-latency", "--set", "delay" , "--token", LabWebHost.Token }, 1, "key=value")]
    [InlineData(new[] { "enable", "no-such-scenario", "--token", LabWebHost.Token }, 1, "404")]
    [InlineData(new[] { "enable", "fixed-latency", "--target", "percentage=200", "--token", LabWebHost.Token }, 1, "target.percentage")]
    [InlineData(new[] { "disable", "fixed-latency", "--token", LabWebHost.Token }, 1, "not active")]
    [InlineData(new[] { "show", "nothing-here" }, 1, "Unknown scenario")]
    public async Task Errors_exit_non_zero_with_a_clear_message(string[] args, int expectedExit, string expectedText)
    {
        var (exit, text) = await RunAsync(args);
        output.WriteLine(text);
        Assert.Equal(expectedExit, exit);
        Assert.Contains(expectedText, text, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task An_unreachable_lab_exits_2()
    {
        var (exit, text) = await RunWithUrlAsync("http://127.0.0.1:1", "list");
        Assert.Equal(2, exit);
        Assert.Contains("Cannot reach the lab", text);
    }

    [Fact]
    public void The_token_is_found_in_dot_lab_of_a_parent_directory()
    {
        var root = Directory.CreateTempSubdirectory("lab-token-");
        try
        {
            Directory.CreateDirectory(Path.Combine(root.FullName, ".lab"));
            File.WriteAllText(Path.Combine(root.FullName, ".lab", "token"), "from-file\n");
            var nested = Directory.CreateDirectory(Path.Combine(root.FullName, "a", "b"));

            var expected = Environment.GetEnvironmentVariable(ScenarioCommandFactory.TokenEnvironmentVariable) is { Length: > 0 } env ? env : "from-file";
            Assert.Equal(expected, ScenarioCommandFactory.ResolveToken(nested.FullName));
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    private Task<(int Exit, string Text)> RunAsync(params string[] args) => RunWithUrlAsync(_host.BaseAddress.ToString(), args);

    private Task<(int Exit, string Text)> RunAsync(int width, params string[] args) => RunWithUrlAsync(_host.BaseAddress.ToString(), args, width);

    private static Task<(int Exit, string Text)> RunWithUrlAsync(string url, params string[] args) => RunWithUrlAsync(url, args, 250);

    private static async Task<(int Exit, string Text)> RunWithUrlAsync(string url, string[] args, int width)
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(writer),
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = width;
        var root = new RootCommand();
        root.Subcommands.Add(ScenarioCommandFactory.Create(console));
        var exit = await root.Parse(["scenario", .. args, "--url", url]).InvokeAsync(new InvocationConfiguration { Output = writer, Error = writer });
        return (exit, writer.ToString());
    }
}
