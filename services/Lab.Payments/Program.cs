using Lab.Payments;
using Lab.Scenarios;
using Lab.Scenarios.Catalog;
using Lab.ServiceDefaults;

var builder = LabWebApplication.CreateBuilder(args);
builder.AddLabDefaults("lab-payments");
builder.Services.AddLabOpenApi("The lab's payment provider: charges taken once per idempotency key after a card authorisation, looked up by order, refunded.");
builder.Services.AddLabScenarios(options => options.UseServiceName(builder.Configuration, "payments", ServiceKind.Payments))
    .SyncFromControlApi();
builder.Services.AddLabScenarioCatalog();
builder.Services.AddPayments(builder.Configuration);

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
