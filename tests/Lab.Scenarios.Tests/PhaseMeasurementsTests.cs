using System.Net;
using Lab.Scenarios;

namespace Lab.Scenarios.Tests;

/// <summary>
/// An experiment's phase figures when a process fault touches the processes themselves: a silo restarted during the phase
/// counts from its restart (not a negative growth), and one that never answered is left out and named.
/// </summary>
public sealed class PhaseMeasurementsTests
{
    private static PrometheusSamples Exposition(double startTime, double calls) => PrometheusSamples.Parse(
        $"""
        # TYPE lab_process_start_time_seconds gauge
        lab_process_start_time_seconds {startTime}
        lab_db_calls_total{"{"}db_operation="catalog.get-product"{"}"} {calls}
        """);

    private static PhaseMeasurements Phase(Dictionary<string, PrometheusSamples> before, Dictionary<string, PrometheusSamples> after) =>
        new(new LabMetrics(before, DateTimeOffset.UnixEpoch), new LabMetrics(after, DateTimeOffset.UnixEpoch), new LoadFigures(0, 0, null));

    [Fact]
    public void A_counter_grows_by_the_difference_and_a_restarted_process_counts_from_its_restart()
    {
        var phase = Phase(
            new() { ["silo-1"] = Exposition(1000, 500), ["silo-2"] = Exposition(1000, 800) },
            new() { ["silo-1"] = Exposition(1000, 650), ["silo-2"] = Exposition(1042, 30) });

        Assert.Equal(150 + 30, phase.Delta("silo", LabMetricNames.DbCalls));
        Assert.Equal(["silo-2"], phase.Restarted);
    }

    [Fact]
    public void A_process_missing_from_either_scrape_is_left_out()
    {
        var phase = Phase(
            new() { ["silo-1"] = Exposition(1000, 500), ["silo-2"] = Exposition(1000, 800) },
            new() { ["silo-1"] = Exposition(1000, 650) });

        Assert.Equal(150, phase.Delta("silo", LabMetricNames.DbCalls));
        Assert.Empty(phase.Restarted);
    }

    [Fact]
    public async Task A_scrape_names_the_process_that_does_not_answer_and_keeps_the_others()
    {
        using var listener = new HttpListener();
        var port = FreePort();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        _ = Task.Run(async () =>
        {
            var context = await listener.GetContextAsync();
            await using (var writer = new StreamWriter(context.Response.OutputStream))
            {
                await writer.WriteAsync("lab_db_calls_total 7\n");
            }
        });
        using var http = new HttpClient();
        var services = new Dictionary<string, Uri>
        {
            ["storefront"] = new($"http://127.0.0.1:{port}/"),
            ["silo-2"] = new($"http://127.0.0.1:{FreePort()}/"), // nothing listens: refused on every try
        };

        var metrics = await LabMetrics.ScrapeAsync(services, http, CancellationToken.None);

        Assert.Equal(["silo-2"], metrics.Missing);
        Assert.Equal(7, metrics.Sum("storefront", LabMetricNames.DbCalls));
    }

    private static int FreePort()
    {
        using var socket = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }
}
