using System.Net;
using Lab.Clustering;
using Lab.Scenarios;
using Lab.Scenarios.Shop;
using Lab.ServiceDefaults;
using Lab.Storefront;
using Lab.Storefront.ControlPanel;
using Orleans.Configuration;

var builder = LabWebApplication.CreateBuilder(args);
builder.AddLabDefaults("lab-storefront");
builder.Services.AddOpenApi();
builder.Services.AddLabScenarios(options =>
    {
        options.ServiceName = string.IsNullOrWhiteSpace(options.ServiceName) ? builder.Configuration["Lab:ServiceName"] ?? "storefront" : options.ServiceName;
        options.ServiceKind = ServiceKind.Storefront;
    })
    .SyncFromCluster()
    .AddScenariosFrom(ShopScenarios.Assembly);
builder.Services.AddControlPanel(builder.Configuration);

builder.Configuration[$"{ClusterClientOptions.Section}:ClusteringConnectionString"] ??= builder.Configuration["Database:ConnectionString"];
var cluster = builder.Configuration.GetSection(ClusterClientOptions.Section).Get<ClusterClientOptions>() ?? new();
builder.Services.AddOptions<ClusterClientOptions>().Bind(builder.Configuration.GetSection(ClusterClientOptions.Section))
    .ValidateDataAnnotations().ValidateOnStart();
// Orleans reads its own provider configuration from the section "Orleans" too, where "Clustering" would name a
// provider: the lab's scalar setting is taken out of its sight once read.
builder.Configuration[$"{ClusterClientOptions.Section}:Clustering"] = null;
builder.Services.PostConfigure<ClusterClientOptions>(options => options.Clustering = cluster.Clustering);
if (cluster.Clustering == ClusteringMode.AdoNet && !string.IsNullOrWhiteSpace(cluster.ClusteringConnectionString))
{
    // The client may start before any silo: it must find the (empty) membership table, not a missing one.
    await PostgresMembershipSchema.EnsureAsync(cluster.ClusteringConnectionString);
}
builder.UseOrleansClient(client =>
{
    if (cluster.Clustering == ClusteringMode.AdoNet)
    {
        client.UsePostgresClustering(cluster.ClusteringConnectionString!);
    }
    else
    {
        client.UseStaticClustering(cluster.GatewayPorts.Select(port => new IPEndPoint(IPAddress.Loopback, port)).ToArray());
    }

    client.Configure<ClusterOptions>(options => (options.ClusterId, options.ServiceId) = (cluster.ClusterId, cluster.ServiceId));
    client.Configure<ClientMessagingOptions>(messaging => messaging.ResponseTimeout = cluster.ResponseTimeout);
    client.AddActivityPropagation();
    client.AddLabScenarioFilters();
});

var app = builder.Build();
app.UseControlPanel();
app.UseLabProblemDetails();
app.UseRouting();
app.UseRouteBaggage();
app.UseLabScenarios();
app.MapLabDefaults();
app.MapLabControlApi();
app.MapControlPanelApi();
app.MapLabRuntimeStatus();
app.MapOpenApi();
app.MapCatalogApi();
app.MapCartApi();
app.MapOrdersApi();
app.Run();
