using Lab.Clustering;
using Lab.Data;
using Lab.Grains;
using Lab.Scenarios;
using Lab.Scenarios.Catalog;
using Lab.ServiceDefaults;
using Orleans.Dashboard;

var builder = LabWebApplication.CreateBuilder(args);
builder.AddLabDefaults("lab-silo");
builder.AddLabSilo(silo =>
{
    silo.AddShop(builder.Configuration);
    silo.Services.AddLabScenarioCatalog();
    silo.AddDashboard();
});

var app = builder.Build();
await app.Services.GetRequiredService<ShopDatabase>().InitializeAsync();
app.MapLabDefaults();
app.MapLabRuntimeStatus();
app.MapOrleansDashboard("/dashboard");
app.MapGet("/", () => Results.Redirect("/dashboard"));
app.Run();
