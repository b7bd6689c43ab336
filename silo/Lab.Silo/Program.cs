using System.Net;
using Lab.Data;
using Lab.Grains;
using Lab.Scenarios;
using Lab.ServiceDefaults;
using Lab.Silo;
using Orleans.Configuration;
using Orleans.Dashboard;

var builder = LabWebApplication.CreateBuilder(args);
builder.AddLabDefaults("lab-silo");

var siloOptions = builder.Configuration.GetSection(SiloHostOptions.Section).Get<SiloHostOptions>() ?? new();
builder.Services.AddOptions<SiloHostOptions>().Bind(builder.Configuration.GetSection(SiloHostOptions.Section))
    .ValidateDataAnnotations().ValidateOnStart();
builder.UseOrleans(silo =>
{
    silo.UseLocalhostClustering(siloOptions.SiloPort, siloOptions.GatewayPort,
        new IPEndPoint(IPAddress.Loopback, siloOptions.PrimarySiloPort), siloOptions.ServiceId, siloOptions.ClusterId);
    silo.Configure<SiloMessagingOptions>(messaging => messaging.ResponseTimeout = siloOptions.ResponseTimeout);
    // Orleans:Scheduling:TurnWarningLengthThreshold etc.: when a turn counts as long-running (orleans-scheduler-long-running-turns).
    silo.Services.Configure<SchedulingOptions>(builder.Configuration.GetSection($"{SiloHostOptions.Section}:Scheduling"));
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
