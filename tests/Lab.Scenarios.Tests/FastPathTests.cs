using System.Collections.Immutable;
using System.Reflection;
using Lab.Scenarios;
using Microsoft.AspNetCore.Http;
using Orleans;
using Orleans.Runtime;
using Orleans.Serialization.Invocation;

namespace Lab.Scenarios.Tests;

public sealed class FastPathTests : IDisposable
{
    private const int Calls = 10_000;

    private static readonly ServiceIdentity Silo = new("silo-1", ServiceKind.Silo);

    public FastPathTests() => ScenarioRuntime.Clear();

    public void Dispose() => ScenarioRuntime.Clear();

    [Fact]
    public void Idle_hooks_allocate_nothing()
    {
        Assert.True(ScenarioRuntime.IsIdle);
        Assert.Equal(0, LeastAllocatedByHooks());
    }

    [Fact]
    public void Hooks_at_points_no_active_scenario_targets_allocate_nothing()
    {
        // A process-only scenario is active: the runtime is not idle, but no call hook has work to do.
        var registry = ScenarioRegistry.FromAssemblies([typeof(TestHogScenario).Assembly]);
        var activation = new ScenarioActivation(
            "test-hog", ImmutableDictionary<string, string>.Empty, TargetFilter.Everywhere, 1,
            DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddMinutes(5), 1, "test");
        ScenarioRuntime.Apply(new ActiveScenarioSet(1, [activation]), registry, TimeProvider.System);

        Assert.False(ScenarioRuntime.IsIdle);
        Assert.Equal(0, LeastAllocatedByHooks());
    }

    // A sync loop left running by an earlier test can swap the process-wide set in mid-measurement; a hook that
    // allocates does so on every run, so the least of three runs is the hooks' own figure.
    private static long LeastAllocatedByHooks() => Enumerable.Range(0, 3).Min(_ => AllocatedByHooks());

    private static long AllocatedByHooks()
    {
        var ctx = new HookContext(HookPoint.Repository, Silo) { RepositoryOperation = "inventory.reserve" };
        var grainFilter = new ScenarioIncomingGrainCallFilter(Silo);
        var outgoingFilter = new ScenarioOutgoingGrainCallFilter(Silo);
        var grainCall = new IdleGrainCall();
        var middleware = new ScenarioHttpServerMiddleware(_ => Task.CompletedTask, Silo);
        var http = new DefaultHttpContext();
        http.Request.Path = "/api/ping";
        using var response = new HttpResponseMessage();
        using var invoker = new HttpMessageInvoker(new ScenarioHttpClientHandler(Silo) { InnerHandler = new FixedResponseHandler(response) });
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://127.0.0.1:1/api/ping");
        var clock = new ScenarioTimeProvider(TimeProvider.System, Silo);

        void CallEveryHook()
        {
            if (!ScenarioRuntime.IsIdle)
            {
                _ = ScenarioRuntime.IsActiveAt(HookPoint.Repository);
            }

            ScenarioRuntime.InvokeAsync(ctx).GetAwaiter().GetResult();
            grainFilter.Invoke(grainCall).GetAwaiter().GetResult();
            outgoingFilter.Invoke(grainCall).GetAwaiter().GetResult();
            middleware.InvokeAsync(http).GetAwaiter().GetResult();
            invoker.SendAsync(request, CancellationToken.None).GetAwaiter().GetResult();
            _ = clock.GetUtcNow();
        }

        CallEveryHook(); // warm up: JIT, static constructors, lazy caches
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Calls; i++)
        {
            CallEveryHook();
        }

        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    private sealed class FixedResponseHandler(HttpResponseMessage response) : HttpMessageHandler
    {
        private readonly Task<HttpResponseMessage> _task = Task.FromResult(response);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) => _task;
    }

    /// <summary>A grain call whose Invoke completes at once; everything else is never touched on the idle path.</summary>
    private sealed class IdleGrainCall : IIncomingGrainCallContext, IOutgoingGrainCallContext
    {
        public Task Invoke() => Task.CompletedTask;

        public IInvokable Request => throw new NotSupportedException();
        public object Grain => throw new NotSupportedException();
        public GrainId? SourceId => throw new NotSupportedException();
        public GrainId TargetId => throw new NotSupportedException();
        public GrainInterfaceType InterfaceType => throw new NotSupportedException();
        public string InterfaceName => throw new NotSupportedException();
        public string MethodName => throw new NotSupportedException();
        public MethodInfo InterfaceMethod => throw new NotSupportedException();
        public object? Result { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public Response? Response { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public IGrainContext TargetContext => throw new NotSupportedException();
        public MethodInfo ImplementationMethod => throw new NotSupportedException();
        public IGrainContext? SourceContext => throw new NotSupportedException();
    }
}

public sealed class FastPathMeasurementTests : IDisposable
{
    public FastPathMeasurementTests() => ScenarioRuntime.Clear();

    public void Dispose() => ScenarioRuntime.Clear();

    [Fact]
    public async Task The_allocation_probe_does_see_work_when_a_scenario_applies()
    {
        // Guards the zero-allocation tests against measuring nothing.
        var registry = ScenarioRegistry.FromAssemblies([]);
        var parameters = ImmutableDictionary<string, string>.Empty.Add("delay", "0ms").Add("jitter", "0ms").Add("hook", "any");
        var activation = new ScenarioActivation("fixed-latency", parameters, TargetFilter.Everywhere, 1, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddMinutes(1), 1, "test");
        ScenarioRuntime.Apply(new ActiveScenarioSet(1, [activation]), registry, TimeProvider.System);
        var silo = new ServiceIdentity("silo-1", ServiceKind.Silo);

        var before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < 100; i++)
        {
            var ctx = new HookContext(HookPoint.Repository, silo);
            await ScenarioRuntime.InvokeAsync(ctx);
            Assert.Equal(["fixed-latency"], ctx.AppliedScenarios);
        }

        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - before > 0);
    }
}
