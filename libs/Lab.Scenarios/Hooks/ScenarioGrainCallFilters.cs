using System.Collections.Concurrent;

namespace Lab.Scenarios;

/// <summary>
/// Applies scenarios to grain calls arriving at this silo. Only the lab's own grain interfaces (namespace
/// "Lab.") are hooked, never Orleans system calls and never the control grain.
/// </summary>
public sealed class ScenarioIncomingGrainCallFilter(ServiceIdentity service) : IIncomingGrainCallFilter
{
    public Task Invoke(IIncomingGrainCallContext context)
    {
        // The idle fast path: one volatile read and a branch, no state machine, no allocation.
        if (!ScenarioRuntime.IsActiveAt(HookPoint.GrainIncoming) || !GrainHook.IsHooked(context.Request.GetInterfaceType()))
        {
            return context.Invoke();
        }

        return InvokeWithScenariosAsync(context);
    }

    private async Task InvokeWithScenariosAsync(IIncomingGrainCallContext context)
    {
        var ctx = GrainHook.CreateContext(HookPoint.GrainIncoming, service, context, GrainHook.ReadCaller());
        await ScenarioRuntime.InvokeAsync(ctx, context.Request.GetCancellationToken());
        await context.Invoke();
    }
}

/// <summary>
/// Applies scenarios to grain calls leaving this silo or client (e.g. a partition between silos). Outgoing filters
/// also see Orleans system calls, hence the same interface check as the incoming filter.
/// </summary>
public sealed class ScenarioOutgoingGrainCallFilter(ServiceIdentity service) : IOutgoingGrainCallFilter
{
    public Task Invoke(IOutgoingGrainCallContext context)
    {
        if (!ScenarioRuntime.IsActiveAt(HookPoint.GrainOutgoing) || !GrainHook.IsHooked(context.Request.GetInterfaceType()))
        {
            return context.Invoke();
        }

        return InvokeWithScenariosAsync(context);
    }

    private async Task InvokeWithScenariosAsync(IOutgoingGrainCallContext context)
    {
        // Stamp the sender on the call (it flows with the message), so the receiving silo's hook knows where it came from.
        GrainHook.StampCaller(service);
        await ScenarioRuntime.InvokeAsync(GrainHook.CreateContext(HookPoint.GrainOutgoing, service, context), context.Request.GetCancellationToken());
        await context.Invoke();
    }
}

internal static class GrainHook
{
    private static readonly ConcurrentDictionary<Type, bool> Hooked = new();

    /// <summary>Lab grain interfaces only: namespace "Lab." and not the control plane.</summary>
    public static bool IsHooked(Type? interfaceType) =>
        interfaceType is not null && Hooked.GetOrAdd(interfaceType, static t =>
            t.Namespace is { } ns
            && (ns == "Lab" || ns.StartsWith("Lab.", StringComparison.Ordinal))
            && t != typeof(IScenarioControlGrain));

    private const string CallerNameKey = "lab.caller";
    private const string CallerKindKey = "lab.caller.kind";

    public static void StampCaller(ServiceIdentity service)
    {
        RequestContext.Set(CallerNameKey, service.Name);
        RequestContext.Set(CallerKindKey, service.Kind.ToString());
    }

    public static ServiceIdentity? ReadCaller() =>
        RequestContext.Get(CallerNameKey) is string name && Enum.TryParse<ServiceKind>(RequestContext.Get(CallerKindKey) as string, out var kind)
            ? new ServiceIdentity(name, kind)
            : null;

    public static HookContext CreateContext(HookPoint point, ServiceIdentity service, IGrainCallContext call, ServiceIdentity? caller = null) =>
        new(point, service)
        {
            CallerService = caller,
            GrainInterface = call.Request.GetInterfaceType()?.Name ?? call.InterfaceName,
            GrainMethod = call.MethodName,
            GrainKey = call.TargetId.Key.ToString(),
            Carrier = call,
        };
}
