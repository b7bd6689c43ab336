using Microsoft.AspNetCore.Builder;

namespace Lab.ServiceDefaults;

public static class LabWebApplication
{
    /// <summary>
    /// A web application builder whose content root is the program's own folder, so its appsettings.json is
    /// found whatever directory the launcher starts it from.
    /// </summary>
    public static WebApplicationBuilder CreateBuilder(string[] args) =>
        WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
}
