using System.Collections.Immutable;
using System.Reflection;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Orleans;
using Orleans.Runtime;
using Orleans.Serialization.Invocation;

namespace Lab.Scenarios.Benchmarks;

/// <summary>
/// The cost of each hook with no scenario acting at it, against the same call with the hook bypassed.
/// "Idle": nothing active. "ActiveElsewhere": a scenario is active, but at another hook point.
/// </summary>
[MemoryDiagnoser]
public class HookBenchmarks
{
    private static readonly ServiceIdentity Service = new("silo-1", ServiceKind.Silo);

    private readonly ScenarioIncomingGrainCallFilter _filter = new(Service);
    private readonly CompletedGrainCall _call = new();
    private readonly RequestDelegate _next = static _ => Task.CompletedTask;
    private readonly DefaultHttpContext _http = new() { Request = { Path = "/api/ping" } };
    private ScenarioHttpServerMiddleware _middleware = null!;
    private HttpMessageInvoker _bare = null!;
    private HttpMessageInvoker _hooked = null!;
    private HttpRequestMessage _request = null!;

    [Params("Idle", "ActiveElsewhere")]
    public string State { get; set; } = "Idle";

    [GlobalSetup]
    public void Setup()
    {
        _middleware = new ScenarioHttpServerMiddleware(_next, Service);
        var response = new HttpResponseMessage();
        _bare = new HttpMessageInvoker(new FixedResponseHandler(response));
        _hooked = new HttpMessageInvoker(new ScenarioHttpClientHandler(Service) { InnerHandler = new FixedResponseHandler(response) });
        _request = new HttpRequestMessage(HttpMethod.Get, "http://127.0.0.1:1/api/ping");

        ScenarioRuntime.Clear();
        if (State == "ActiveElsewhere")
        {
            // clock-skew acts through the clock only, so every call hook stays on its fast path.
            var activation = new ScenarioActivation(
                "clock-skew", ImmutableDictionary<string, string>.Empty.Add("skew", "1s"), new TargetFilter(Service: "silo-2"),
                1, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddHours(1), 1, "bench");
            ScenarioRuntime.Apply(new ActiveScenarioSet(1, [activation]), ScenarioRegistry.FromAssemblies([]), TimeProvider.System);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        ScenarioRuntime.Clear();
        _bare.Dispose();
        _hooked.Dispose();
        _request.Dispose();
    }

    [Benchmark(Baseline = true)]
    public Task GrainCall_Bypassed() => _call.Invoke();

    [Benchmark]
    public Task GrainCall_Hooked() => _filter.Invoke(_call);

    [Benchmark]
    public Task HttpServer_Bypassed() => _next(_http);

    [Benchmark]
    public Task HttpServer_Hooked() => _middleware.InvokeAsync(_http);

    [Benchmark]
    public Task<HttpResponseMessage> HttpClient_Bypassed() => _bare.SendAsync(_request, CancellationToken.None);

    [Benchmark]
    public Task<HttpResponseMessage> HttpClient_Hooked() => _hooked.SendAsync(_request, CancellationToken.None);

    [Benchmark]
    public bool RepositoryHookCheck() => ScenarioRuntime.IsActiveAt(HookPoint.Repository);

    private sealed class FixedResponseHandler(HttpResponseMessage response) : HttpMessageHandler
    {
        private readonly Task<HttpResponseMessage> _task = Task.FromResult(response);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) => _task;
    }

    /// <summary>A grain call whose Invoke completes at once; the idle filter touches nothing else.</summary>
    private sealed class CompletedGrainCall : IIncomingGrainCallContext
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
    }
}
