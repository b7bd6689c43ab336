using System.Net;
using Lab.ServiceDefaults;
using Lab.Storefront;
using Orleans.Configuration;

var builder = LabWebApplication.CreateBuilder(args);
builder.AddLabDefaults("lab-storefront");
builder.Services.AddOpenApi();

var cluster = builder.Configuration.GetSection(ClusterClientOptions.Section).Get<ClusterClientOptions>() ?? new();
builder.Services.AddOptions<ClusterClientOptions>().Bind(builder.Configuration.GetSection(ClusterClientOptions.Section))
    .ValidateDataAnnotations().ValidateOnStart();
builder.UseOrleansClient(client =>
{
    client.UseStaticClustering(cluster.GatewayPorts.Select(port => new IPEndPoint(IPAddress.Loopback, port)).ToArray());
    client.Configure<ClusterOptions>(options => (options.ClusterId, options.ServiceId) = (cluster.ClusterId, cluster.ServiceId));
    client.Configure<ClientMessagingOptions>(messaging => messaging.ResponseTimeout = cluster.ResponseTimeout);
    client.AddActivityPropagation();
});

var app = builder.Build();
app.UseLabProblemDetails();
app.UseRouting();
app.UseRouteBaggage();
app.MapLabDefaults();
app.MapOpenApi();
app.MapCatalogApi();
app.MapCartApi();
app.MapOrdersApi();
app.Run();
