using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Lab.Scenarios;

/// <summary>The body of POST (enable) and PATCH (change) /lab/scenarios/{name}. Values are text or numbers.</summary>
/// <example>{"parameters":{"delay":"200ms"},"target":{"grainInterface":"IInventoryGrain","percentage":50},"ttl":"5m","seed":42}</example>
public sealed record ScenarioRequestBody(
    Dictionary<string, JsonElement>? Parameters,
    Dictionary<string, JsonElement>? Target,
    string? Ttl,
    long? Seed);

/// <summary>
/// The lab's control API under /lab. Reads are open; mutations need <c>Authorization: Bearer TOKEN</c>
/// (<see cref="LabScenarioOptions.ControlToken"/>). Every error is a problem document; invalid requests get
/// 400 with an <c>errors</c> dictionary keyed by the offending parameter or field ("delay", "target.percentage",
/// "ttl", "seed", "body"). A rejected request changes nothing. The HTTP server hook never touches /lab.
/// </summary>
public static class LabControlApi
{
    /// <summary>Header a client may send to name itself in the history.</summary>
    public const string ActorHeader = "X-Lab-Actor";

    private const int MaxBodyChars = 64 * 1024;

    public static RouteGroupBuilder MapLabControlApi(this IEndpointRouteBuilder endpoints)
    {
        var options = endpoints.ServiceProvider.GetRequiredService<IOptions<LabScenarioOptions>>().Value;
        if (string.IsNullOrWhiteSpace(options.ControlToken))
        {
            throw new InvalidOperationException("Lab:Scenarios:ControlToken must be set where the control API is mapped (mutations require it).");
        }

        var group = endpoints.MapGroup("/lab").WithTags("Lab scenarios");
        group.AddEndpointFilter(ProblemOnFailure);

        group.MapGet("/scenarios", async (IScenarioControlPlane plane, CancellationToken ct) =>
                Json(await plane.ListAsync(ct)))
            .WithName("ListScenarios").WithSummary("The catalog with parameter schemas and live status.")
            .Produces<ScenarioStatus[]>();

        group.MapGet("/scenarios/active", async (IScenarioControlPlane plane, CancellationToken ct) =>
                Json(await plane.GetActiveAsync(ct)))
            .WithName("ActiveScenarios").WithSummary("The active set.")
            .Produces<ActiveScenarioSet>();

        group.MapGet("/scenarios/snapshot", async (IScenarioControlPlane plane, long? since, string? service, ServiceKind? kind, CancellationToken ct) =>
                await plane.GetSnapshotAsync(since ?? -1, Caller(service, kind), ct) is { } set ? Json(set) : Results.NoContent())
            .WithName("ScenarioSnapshot")
            .WithSummary("The active set, or 204 when its version is still 'since' (polled by processes outside the cluster, which name themselves with 'service' and 'kind').")
            .Produces<ActiveScenarioSet>().Produces(StatusCodes.Status204NoContent);

        group.MapGet("/scenarios/{name}", async (string name, IScenarioControlPlane plane, CancellationToken ct) =>
                await plane.GetAsync(name, ct) is { } status ? Json(status) : UnknownScenario(name))
            .WithName("GetScenario").WithSummary("One scenario: meta, parameter schema, runbook and live status.")
            .Produces<ScenarioStatus>().ProducesProblem(StatusCodes.Status404NotFound);

        group.MapPost("/scenarios/{name}", (string name, HttpContext http, IScenarioControlPlane plane, ScenarioRegistry registry) =>
                MutateAsync(name, http, registry, (request, ct) => plane.EnableAsync(request, ct)))
            .WithName("EnableScenario").WithSummary("Enables a scenario (replacing an active one of the same name).")
            .WithMetadata(JsonBody.Instance)
            .Produces<ControlResult>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .AddEndpointFilter(RequireToken);

        group.MapPatch("/scenarios/{name}", (string name, HttpContext http, IScenarioControlPlane plane, ScenarioRegistry registry) =>
                MutateAsync(name, http, registry, (request, ct) => plane.ChangeAsync(request, ct)))
            .WithName("ChangeScenario").WithSummary("Changes parameters, target, TTL or seed of an active scenario.")
            .WithMetadata(JsonBody.Instance)
            .Produces<ControlResult>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .AddEndpointFilter(RequireToken);

        group.MapDelete("/scenarios/{name}", async (string name, HttpContext http, IScenarioControlPlane plane, CancellationToken ct) =>
                ToHttp(await plane.DisableAsync(name, Actor(http), ct), name))
            .WithName("DisableScenario").WithSummary("Disables an active scenario.")
            .Produces<ControlResult>().ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict)
            .AddEndpointFilter(RequireToken);

        group.MapPost("/reset", async (HttpContext http, IScenarioControlPlane plane, CancellationToken ct) =>
                ToHttp(await plane.ResetAsync(Actor(http), ct), name: null))
            .WithName("ResetScenarios").WithSummary("Disables every scenario at once.")
            .Produces<ControlResult>().ProducesProblem(StatusCodes.Status401Unauthorized)
            .AddEndpointFilter(RequireToken);

        group.MapGet("/history", async (int? limit, IScenarioControlPlane plane, CancellationToken ct) =>
                Json(await plane.HistoryAsync(limit ?? 100, ct)))
            .WithName("ScenarioHistory").WithSummary("Who enabled, changed, disabled or reset what and when, and what expired; newest first.")
            .Produces<ScenarioHistoryEntry[]>();

        return group;
    }

    /// <summary>
    /// Makes an endpoint need the control token (<c>Authorization: Bearer TOKEN</c>), answering 401 problems as the
    /// control API's mutations do; for other /lab endpoints that serve data only the token holder should see.
    /// </summary>
    public static TBuilder RequireControlToken<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(RequireToken);

    /// <summary>The polling process, when it names itself with a name a target could match.</summary>
    private static ServiceIdentity? Caller(string? service, ServiceKind? kind) =>
        service is { Length: > 0 and <= ScenarioControlCore.MaxTargetValueLength } ? new ServiceIdentity(service, kind ?? ServiceKind.Other) : null;

    /// <summary>Parses a request body into a <see cref="ScenarioRequest"/>; every problem is keyed by its field.</summary>
    public static ScenarioRequest ParseRequestBody(string name, string? body, string actor, ValidationErrors errors)
    {
        var request = new ScenarioRequest(name, Actor: actor);
        if (string.IsNullOrWhiteSpace(body))
        {
            return request;
        }

        if (body.Length > MaxBodyChars)
        {
            errors.Add("body", $"The body is larger than {MaxBodyChars} characters.");
            return request;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException ex)
        {
            errors.Add("body", $"Malformed JSON: {ex.Message}");
            return request;
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                errors.Add("body", "The body must be a JSON object such as {\"parameters\":{\"delay\":\"200ms\"}}.");
                return request;
            }

            try
            {
                return ReadFields(document.RootElement, request, errors);
            }
            catch (InvalidOperationException)
            {
                // The parser takes escapes such as "\ud800" that no .NET string can hold; reading one throws.
                errors.Add("body", "The JSON holds a name or value that is not valid text (an unpaired surrogate escape such as \\ud800).");
                return request;
            }
        }
    }

    private static ScenarioRequest ReadFields(JsonElement root, ScenarioRequest request, ValidationErrors errors)
    {
        foreach (var property in root.EnumerateObject())
        {
            switch (property.Name.ToLowerInvariant())
            {
                case "parameters":
                    request = request with { Parameters = ReadMap(property.Value, "parameters", keyPrefix: "", errors) };
                    break;
                case "target":
                    request = request with { Target = ReadMap(property.Value, "target", keyPrefix: "target.", errors) };
                    break;
                case "ttl":
                    if (property.Value.ValueKind == JsonValueKind.String)
                    {
                        request = request with { Ttl = property.Value.GetString() };
                    }
                    else if (property.Value.ValueKind != JsonValueKind.Null)
                    {
                        errors.Add("ttl", "'ttl' must be a string such as \"5m\".");
                    }

                    break;
                case "seed":
                    if (property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetInt64(out var seed))
                    {
                        request = request with { Seed = seed };
                    }
                    else if (property.Value.ValueKind == JsonValueKind.String && long.TryParse(property.Value.GetString(), out seed))
                    {
                        request = request with { Seed = seed };
                    }
                    else if (property.Value.ValueKind != JsonValueKind.Null)
                    {
                        errors.Add("seed", "'seed' must be a whole number.");
                    }

                    break;
                default:
                    errors.Add(property.Name, $"Unknown field '{property.Name}' (known: parameters, target, ttl, seed).");
                    break;
            }
        }

        return request;
    }

    private static ImmutableDictionary<string, string>? ReadMap(JsonElement element, string field, string keyPrefix, ValidationErrors errors)
    {
        if (element.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (element.ValueKind != JsonValueKind.Object)
        {
            errors.Add(field, $"'{field}' must be a JSON object of name/value pairs.");
            return null;
        }

        var map = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var item in element.EnumerateObject())
        {
            switch (item.Value.ValueKind)
            {
                case JsonValueKind.String:
                    map[item.Name] = item.Value.GetString()!;
                    break;
                case JsonValueKind.Number:
                    map[item.Name] = item.Value.GetRawText();
                    break;
                case JsonValueKind.True or JsonValueKind.False:
                    map[item.Name] = item.Value.GetBoolean() ? "true" : "false";
                    break;
                case JsonValueKind.Null when field == "target":
                    map[item.Name] = ""; // clears the field on a change
                    break;
                default:
                    errors.Add(keyPrefix + item.Name, $"'{item.Name}' must be a string, number or boolean, not {item.Value.ValueKind}.");
                    break;
            }
        }

        return map.ToImmutable();
    }

    private static async Task<IResult> MutateAsync(
        string name, HttpContext http, ScenarioRegistry registry, Func<ScenarioRequest, CancellationToken, Task<ControlResult>> mutate)
    {
        // Unknown names answer 404 whatever the body says.
        if (registry.Find(name) is null)
        {
            return UnknownScenario(name);
        }

        // Checked here, after the token (routing would answer 415 before any filter ran).
        if (!IsJsonOrAbsent(http.Request))
        {
            return Results.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type",
                detail: $"The body must be JSON ('Content-Type: application/json'), not '{http.Request.ContentType}'.");
        }

        var body = await ReadBodyAsync(http.Request);
        var errors = new ValidationErrors();
        var request = ParseRequestBody(name, body, Actor(http), errors);
        if (!errors.IsEmpty)
        {
            return Invalid(name, errors.ToDictionary());
        }

        return ToHttp(await mutate(request, http.RequestAborted), name);
    }

    private static bool IsJsonOrAbsent(HttpRequest request) =>
        request.ContentType is null
            ? request.ContentLength is null or 0
            : Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(request.ContentType, out var type)
              && (type.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) || type.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Declares the JSON body to the API description without the routing constraint <c>Accepts</c> adds (which answers
    /// 415 before the token is checked: an unauthenticated caller must get 401 first).
    /// </summary>
    private sealed class JsonBody : Microsoft.AspNetCore.Http.Metadata.IAcceptsMetadata
    {
        public static readonly JsonBody Instance = new();

        public IReadOnlyList<string> ContentTypes => [];

        public Type? RequestType => typeof(ScenarioRequestBody);

        public bool IsOptional => true;
    }

    private static async Task<string?> ReadBodyAsync(HttpRequest request)
    {
        using var reader = new StreamReader(request.Body, Encoding.UTF8);
        var buffer = new char[MaxBodyChars + 1];
        var read = await reader.ReadBlockAsync(buffer, request.HttpContext.RequestAborted);
        return new string(buffer, 0, read);
    }

    private static IResult ToHttp(ControlResult result, string? name) => result.Outcome switch
    {
        ControlOutcome.Ok => Json(result),
        ControlOutcome.Invalid => Invalid(name ?? "", result.Errors?.ToDictionary() ?? []),
        ControlOutcome.UnknownScenario => UnknownScenario(name ?? ""),
        ControlOutcome.NotActive => Results.Problem(
            statusCode: StatusCodes.Status409Conflict, title: "Scenario not active", detail: result.Detail),
        _ => Results.Problem(detail: result.Detail),
    };

    private static IResult Invalid(string name, IDictionary<string, string[]> errors) =>
        Results.ValidationProblem(
            errors,
            title: "Invalid scenario request",
            detail: $"The request for '{name}' is invalid; nothing changed. See 'errors', keyed by the offending parameter or field.");

    private static IResult UnknownScenario(string name) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Unknown scenario", detail: $"No scenario is named '{name}'. GET /lab/scenarios lists them.");

    private static IResult Json<T>(T value) => Results.Json(value, LabJson.Options);

    private static string Actor(HttpContext http) =>
        http.Request.Headers[ActorHeader].FirstOrDefault() is { Length: > 0 and <= 100 } actor
            ? actor
            : $"api@{http.Connection.RemoteIpAddress}";

    private static async ValueTask<object?> RequireToken(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var expected = http.RequestServices.GetRequiredService<IOptions<LabScenarioOptions>>().Value.ControlToken!;
        var header = http.Request.Headers.Authorization.FirstOrDefault();
        const string scheme = "Bearer ";
        var presented = header is not null && header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) ? header[scheme.Length..].Trim() : null;
        if (presented is null || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(expected)))
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
            return Results.Problem(
                statusCode: StatusCodes.Status401Unauthorized,
                title: presented is null ? "Token required" : "Wrong token",
                detail: "Changing scenarios needs 'Authorization: Bearer TOKEN' (the token 'lab up' printed, also in .lab/token).");
        }

        return await next(context);
    }

    // The control plane may be unreachable (cluster starting, silo restarting): answer with a problem, never a bare 500.
    private static async ValueTask<object?> ProblemOnFailure(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !context.HttpContext.RequestAborted.IsCancellationRequested)
        {
            return Results.Problem(
                statusCode: StatusCodes.Status503ServiceUnavailable,
                title: "Control plane unavailable",
                detail: $"{ex.GetType().Name}: {ex.Message}");
        }
    }
}
