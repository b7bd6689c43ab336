using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Lab.Contracts;
using Lab.Scenarios.Shop;
using Lab.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// timeout-cascade on real processes: the storefront answers 504 at its budget while the saga and payments finish
/// the work anyway (orphaned: orders confirmed and charged for customers told it timed out); with the cure the
/// deadline travels down and nothing is finished after it.
/// </summary>
[ScenarioTest(TimeoutCascadeScenario.Name)]
[Collection(ScenarioProcessesCollection.Name)]
public sealed class TimeoutCascadeTests(ScenarioProcessesFixture lab, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Checkouts = 2;
    private static readonly TimeSpan EdgeTimeout = TimeSpan.FromSeconds(1);
    // Longer than the edge's budget, shorter than the payments client's timeout (3 s in the fixture): the charge completes.
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(1800);
    // The shop's own Resilience:DeadlineMargin, which the cure restores.
    private static readonly TimeSpan Margin = new ResilienceOptions().DeadlineMargin;
    private const int ProbeCustomer = 161;

    public Task InitializeAsync() => lab.ResetAsync();

    public Task DisposeAsync() => lab.ResetAsync();

    [Fact]
    public async Task Work_below_the_edge_outlives_its_deadline_without_the_cure_and_stops_at_it_with_the_cure()
    {
        var fault = await RunAsync(cure: false, firstCustomer: 121);
        var cured = await RunAsync(cure: true, firstCustomer: 131);
        await lab.ResetAsync();
        await lab.FillCartAsync(141, "SKU-00141");
        var after = await lab.CheckoutAsync(141);

        output.WriteLine($"fault: {fault}");
        output.WriteLine($"cure:  {cured}");
        output.WriteLine($"after disable: {after}");

        // Without the cure the edge gives up at its budget (at least half of it, as measured here), while the work below goes on:
        // spans of its own checkout end after the edge answered. With the cure the saga gives up first: payments stops 'margin'
        // before the deadline it was handed, which the saga had shrunk by 'margin' too, so the 504 comes up to two margins early.
        Assert.All(fault.Answers, answer =>
        {
            Assert.Equal(HttpStatusCode.GatewayTimeout, answer.Status);
            Assert.True(answer.Elapsed >= EdgeTimeout / 2, answer.ToString());
        });
        Assert.All(fault.Traces, trace => Assert.True(trace.EndedAfterTheEdge > 0, "no work of a timed-out checkout ended after the edge answered"));
        Assert.All(cured.Answers, answer =>
        {
            Assert.Equal(HttpStatusCode.GatewayTimeout, answer.Status);
            Assert.True(answer.Elapsed >= (EdgeTimeout - 2 * Margin) / 2, answer.ToString());
        });
        // The saga gave up by itself at its share of the deadline and cancelled the order. (Which 504 the customer got, the
        // saga's or the edge's own budget running out two margins later, depends on how fast the compensation runs.)
        Assert.Equal(Checkouts, cured.FailureReasons.Count);
        Assert.All(cured.FailureReasons, reason => Assert.Contains("share of the caller's deadline", reason));

        // Without the cure the work goes on below: orders confirmed and charges committed after the deadline (the layers mark
        // their spans lab.orphaned).
        Assert.Contains(fault.Traces, trace => trace.Orphaned.Contains("order-saga"));
        Assert.Contains(fault.Traces, trace => trace.Orphaned.Contains("payments-server"));
        Assert.True(fault.ConfirmedOrders >= 1, "the customers who got 504 have no confirmed order");

        // With the cure every layer stops at the deadline: nothing is finished after it, nothing confirmed or left charged.
        Assert.All(cured.Traces, trace => Assert.Empty(trace.Orphaned));
        Assert.Equal(0, cured.ConfirmedOrders);
        Assert.Equal(0, cured.CapturedCharges);

        Assert.True(after.Status == HttpStatusCode.Created, after.ToString());
    }

    [Fact]
    public async Task With_no_scenario_payments_refuses_a_charge_whose_deadline_is_already_spent_and_the_naive_seam_takes_it()
    {
        // A real order to charge again, so the lab's own invariants (every charge belongs to an order) still hold after.
        await lab.FillCartAsync(ProbeCustomer, $"SKU-{ProbeCustomer:00000}");
        var checkout = await lab.CheckoutAsync(ProbeCustomer);
        Assert.True(checkout.Status == HttpStatusCode.Created, checkout.ToString());
        var orderId = JsonDocument.Parse(checkout.Body).RootElement.GetProperty("orderId").GetGuid();

        // A request can reach payments after its deadline (queued behind a starved thread pool, say): the idle shop must
        // refuse it before anything is written, however fast the charge would be; with the deadline-propagation seam
        // regressed (timeout-cascade without its cure), nobody looks.
        var spent = DateTimeOffset.UtcNow - TimeSpan.FromSeconds(5);
        var refused = await ChargeAgainAsync(orderId, spent);
        await lab.EnableAsync(TimeoutCascadeScenario.Name, new() { ["share"] = "0%", ["cure"] = "false" });
        var taken = await ChargeAgainAsync(orderId, spent);
        var charges = await ChargesAsync(orderId);
        if (taken.ChargeId is { } extra)
        {
            (await lab.Payments.PostAsync($"/api/charges/{extra}/refund", null)).EnsureSuccessStatusCode(); // the order stays charged once
        }

        output.WriteLine($"idle shop: {(int)refused.Status}; regressed: {(int)taken.Status} {taken.ChargeId}; the order's charges then: {charges}");
        Assert.Equal(HttpStatusCode.GatewayTimeout, refused.Status);
        Assert.Equal(HttpStatusCode.Created, taken.Status);
        Assert.Equal(2, charges); // the checkout's own and the one taken regressed; none from the refused request
    }

    /// <summary>Posts a second charge for <paramref name="orderId"/> straight to payments with <paramref name="deadline"/> in its header.</summary>
    private async Task<(HttpStatusCode Status, string? ChargeId)> ChargeAgainAsync(Guid orderId, DateTimeOffset deadline)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/charges")
        {
            Content = JsonContent.Create(new { orderId, amount = 12.50m, currency = "EUR" }),
        };
        request.Headers.Add("Idempotency-Key", $"probe-{Guid.NewGuid()}");
        request.Headers.Add(CallDeadline.Header, CallDeadline.Format(deadline));
        using var response = await lab.Payments.SendAsync(request);
        var chargeId = response.StatusCode == HttpStatusCode.Created
            ? (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("chargeId").GetString()
            : null;
        return (response.StatusCode, chargeId);
    }

    private async Task<int> ChargesAsync(Guid orderId) =>
        (await lab.Payments.GetFromJsonAsync<JsonElement>($"/api/charges?orderId={orderId}")).GetArrayLength();

    private async Task<Outcome> RunAsync(bool cure, int firstCustomer)
    {
        await lab.ResetAsync();
        await lab.EnableAsync(TimeoutCascadeScenario.Name, new()
        {
            ["delay"] = $"{Delay.TotalMilliseconds}ms", ["share"] = "100%", ["edge-timeout"] = $"{EdgeTimeout.TotalMilliseconds}ms", ["cure"] = cure ? "true" : "false",
        });
        var customers = Enumerable.Range(firstCustomer, Checkouts).ToList();
        var answers = new List<CheckoutOutcome>();
        var traces = new List<TestTrace>();
        foreach (var customer in customers)
        {
            await lab.FillCartAsync(customer, $"SKU-{customer:00000}");
            var trace = new TestTrace();
            traces.Add(trace);
            answers.Add(await lab.CheckoutAsync(customer, trace));
            // Let the work below finish (or be cancelled) before the next checkout queues behind its write lock.
            await Task.Delay(Delay + TimeSpan.FromMilliseconds(500));
        }

        var checkouts = (await Task.WhenAll(traces.Select(trace => lab.SettledTraceAsync(trace)))).Select(CheckoutTrace.Of).ToList();
        var confirmed = 0;
        var captured = 0;
        var failureReasons = new List<string>();
        foreach (var customer in customers)
        {
            var history = await lab.Storefront.GetFromJsonAsync<JsonElement>($"/api/customers/{customer}/orders?limit=5");
            var orders = (history.ValueKind == JsonValueKind.Array ? history : history.GetProperty("orders")).EnumerateArray()
                .Where(o => o.GetProperty("createdAt").GetDateTimeOffset() > DateTimeOffset.UtcNow - TimeSpan.FromMinutes(1))
                .ToList();
            confirmed += orders.Count(o => IsConfirmed(o.GetProperty("status")));
            failureReasons.AddRange(orders.Select(o => o.GetProperty("failureReason")).Where(r => r.ValueKind == JsonValueKind.String).Select(r => r.GetString()!));
            foreach (var order in orders)
            {
                var charges = await lab.Payments.GetFromJsonAsync<JsonElement>($"/api/charges?orderId={order.GetProperty("orderId").GetString()}");
                captured += charges.EnumerateArray().Count(c => c.GetProperty("status").GetString() == "captured");
            }
        }

        return new Outcome(answers, checkouts, confirmed, captured, failureReasons);
    }

    /// <summary>One checkout's spans: the layers that marked work finished after the deadline, and how many ended after the edge answered.</summary>
    private sealed record CheckoutTrace(IReadOnlyList<string> Orphaned, int EndedAfterTheEdge)
    {
        public static CheckoutTrace Of(List<ViewerSpan> spans)
        {
            var edge = spans.Single(s => s.Service == "lab-storefront" && s.Kind == ViewerSpan.ServerKind && s.Name.Contains("checkout", StringComparison.Ordinal));
            return new CheckoutTrace(
                [.. spans.Select(s => s.Attribute("lab.orphaned")).OfType<string>()],
                spans.Count(s => s.Service != "lab-storefront" && s.End > edge.End));
        }

        public override string ToString() => $"orphaned [{string.Join(", ", Orphaned)}], {EndedAfterTheEdge} spans ended after the edge answered";
    }

    private static bool IsConfirmed(JsonElement status) => status.ValueKind == JsonValueKind.String
        ? status.GetString() is nameof(OrderStatus.Confirmed) or nameof(OrderStatus.Shipped)
        : (OrderStatus)status.GetInt32() is OrderStatus.Confirmed or OrderStatus.Shipped;

    private sealed record Outcome(IReadOnlyList<CheckoutOutcome> Answers, IReadOnlyList<CheckoutTrace> Traces, int ConfirmedOrders, int CapturedCharges,
        IReadOnlyList<string> FailureReasons)
    {
        public override string ToString() =>
            $"answers [{string.Join("; ", Answers)}], traces [{string.Join("; ", Traces)}], " +
            $"confirmed {ConfirmedOrders}, captured charges {CapturedCharges}, orders failed [{string.Join("; ", FailureReasons)}]";
    }
}
