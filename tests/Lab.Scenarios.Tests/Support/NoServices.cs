namespace Lab.Scenarios.Tests.Support;

/// <summary>The services of a process that offers a scenario none (no host, no silo): what a runtime host outside a real process gets.</summary>
public sealed class NoServices : IServiceProvider
{
    public static readonly NoServices Instance = new();

    public object? GetService(Type serviceType) => null;
}
