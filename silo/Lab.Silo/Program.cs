using System.Net;
using Lab.Clustering;
using Lab.Data;
using Lab.Grains;
using Lab.Scenarios;
using Lab.ServiceDefaults;
using Lab.Silo;
using Orleans.Configuration;
using Orleans.Dashboard;

var builder = LabWebApplication.CreateBuilder(args);
builder.AddLabDefaults("lab-silo");

// The membership table's connection defaults to the shop database's.
builder.Configuration[$"{SiloHostOptions.Section}:ClusteringConnectionString"] ??= builder.Configuration["Database:ConnectionString"];
var siloOptions = builder.Configuration.GetSection(SiloHostOptions.Section).Get<SiloHostOptions>() ?? new();
builder.Services.AddOptions<SiloHostOptions>().Bind(builder.Configuration.GetSection(SiloHostOptions.Section))
    .ValidateDataAnnotations().ValidateOnStart();
// Orleans reads its own provider configuration from the section "Orleans" too, where "Clustering" would name a
// provider: the lab's scalar setting is taken out of its sight once read.
builder.Configuration[$"{SiloHostOptions.Section}:Clustering"] = null;
builder.Services.PostConfigure<SiloHostOptions>(options => options.Clustering = siloOptions.Clustering);
if (siloOptions.Clustering == ClusteringMode.AdoNet && !string.IsNullOrWhiteSpace(siloOptions.ClusteringConnectionString))
{
    await PostgresMembershipSchema.EnsureAsync(siloOptions.ClusteringConnectionString);
}

builder.UseOrleans(silo =>
{
    if (siloOptions.Clustering == ClusteringMode.AdoNet)
    {
        silo.UsePostgresClustering(siloOptions.ClusteringConnectionString!);
        silo.Configure<ClusterOptions>(cluster => (cluster.ClusterId, cluster.ServiceId) = (siloOptions.ClusterId, siloOptions.ServiceId));
        // Listen on the advertised address only: loopback for the embedded lab, the container's address in compose.
        silo.ConfigureEndpoints(LabClustering.ResolveAdvertisedAddress(siloOptions.AdvertisedHost), siloOptions.SiloPort, siloOptions.GatewayPort);
    }
    else
    {
        silo.UseLocalhostClustering(siloOptions.SiloPort, siloOptions.GatewayPort,
            new IPEndPoint(IPAddress.Loopback, siloOptions.PrimarySiloPort), siloOptions.ServiceId, siloOptions.ClusterId);
    }

    silo.Configure<SiloMessagingOptions>(messaging => messaging.ResponseTimeout = siloOptions.ResponseTimeout);
    // Orleans:Scheduling:TurnWarningLengthThreshold etc.: when a turn counts as long-running (orleans-scheduler-long-running-turns).
    silo.Services.Configure<SchedulingOptions>(builder.Configuration.GetSection($"{SiloHostOptions.Section}:Scheduling"));
    // Orleans:Membership:ProbeTimeout, NumMissedProbesLimit etc.: how fast a dead silo is noticed and declared dead.
    silo.Services.Configure<ClusterMembershipOptions>(builder.Configuration.GetSection($"{SiloHostOptions.Section}:Membership"));
    silo.AddShop(builder.Configuration);
    silo.AddDashboard();
});

var app = builder.Build();
await app.Services.GetRequiredService<ShopDatabase>().InitializeAsync();
app.MapLabDefaults();
app.MapLabRuntimeStatus();
app.MapOrleansDashboard("/dashboard");
app.MapGet("/", () => Results.Redirect("/dashboard"));
app.Run();
