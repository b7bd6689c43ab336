using Lab.Data;
using Lab.Payments;
using Lab.Scenarios;
using Lab.Scenarios.Shop;
using Lab.ServiceDefaults;

var builder = LabWebApplication.CreateBuilder(args);
builder.AddLabDefaults("lab-payments");
builder.Services.AddLabDb(builder.Configuration);
builder.Services.AddSingleton<ChargeRepository>();
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddOpenApi();
builder.Services.AddLabScenarios(options =>
    {
        options.ServiceName = string.IsNullOrWhiteSpace(options.ServiceName) ? builder.Configuration["Lab:ServiceName"] ?? "payments" : options.ServiceName;
        options.ServiceKind = ServiceKind.Payments;
    })
    .SyncFromControlApi()
    .AddScenariosFrom(ShopScenarios.Assembly);

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
