using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;

namespace Lab.ServiceDefaults;

/// <summary>
/// The OpenAPI document of a lab service, complete enough to lint clean (Spectral's oas ruleset): the API described, a
/// contact, server URLs without a trailing slash, and every operation described (its summary when it gave no description).
/// </summary>
public static class LabOpenApi
{
    public static IServiceCollection AddLabOpenApi(this IServiceCollection services, string description) =>
        services.AddOpenApi(options =>
        {
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info.Description = description;
                document.Info.Contact = new OpenApiContact { Name = "The Lab" };
                foreach (var server in document.Servers ?? [])
                {
                    server.Url = server.Url?.TrimEnd('/');
                }

                return Task.CompletedTask;
            });
            options.AddOperationTransformer((operation, _, _) =>
            {
                if (string.IsNullOrWhiteSpace(operation.Description))
                {
                    operation.Description = operation.Summary;
                }

                return Task.CompletedTask;
            });
        });
}
