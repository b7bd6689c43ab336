using Lab.Data;
using Lab.Payments;
using Lab.ServiceDefaults;

var builder = LabWebApplication.CreateBuilder(args);
builder.AddLabDefaults("lab-payments");
builder.Services.AddLabDb(builder.Configuration);
builder.Services.AddSingleton<ChargeRepository>();
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddOpenApi();

var app = builder.Build();
await app.Services.GetRequiredService<ChargeRepository>().InitializeAsync();
app.UseLabProblemDetails();
app.MapLabDefaults();
app.MapOpenApi();
app.MapChargesApi();
app.Run();
