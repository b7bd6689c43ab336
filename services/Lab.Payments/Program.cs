using Lab.Data;
using Lab.Payments;
using Lab.Scenarios;
using Lab.Scenarios.Catalog;
using Lab.ServiceDefaults;
using Lab.Shop;

var builder = LabWebApplication.CreateBuilder(args);
builder.AddLabDefaults("lab-payments");
builder.Services.AddLabDb(builder.Configuration);
builder.Services.AddSingleton<ChargeRepository>();
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddOpenApi();
builder.Services.AddShopPolicies(builder.Configuration);
builder.Services.AddLabScenarios(options => options.UseServiceName(builder.Configuration, "payments", ServiceKind.Payments))
    .SyncFromControlApi();
builder.Services.AddLabScenarioCatalog();

var app = builder.Build();
await app.Services.GetRequiredService<ChargeRepository>().InitializeAsync();
app.UseLabProblemDetails();
app.UseRouting();
app.UseLabScenarios();
app.MapLabDefaults();
app.MapLabRuntimeStatus();
app.MapOpenApi();
app.MapChargesApi();
app.Run();
