using Lab.PageCache;
using Lab.Clustering;
using Lab.Scenarios;
using Lab.Scenarios.Catalog;
using Lab.ServiceDefaults;
using Lab.Shop;
using Lab.Storefront;
using Lab.Storefront.ControlPanel;

var builder = LabWebApplication.CreateBuilder(args);
builder.AddLabDefaults("lab-storefront");
builder.Services.AddLabOpenApi("The lab's shop (catalog, carts, checkout, orders, back office) and the lab's control API, which switches failure scenarios on and off.");
builder.Services.AddShopPolicies(builder.Configuration);
builder.Services.AddProductCache(builder.Configuration);
builder.Services.AddLabScenarios(options => options.UseServiceName(builder.Configuration, "storefront", ServiceKind.Storefront))
    .SyncFromCluster();
builder.Services.AddLabScenarioCatalog();
builder.Services.AddControlPanel(builder.Configuration);
builder.AddLabClusterClient(client =>
{
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
app.MapWishListApi();
app.MapAdminApi();
app.Run();
