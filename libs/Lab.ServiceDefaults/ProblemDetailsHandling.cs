using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Lab.ServiceDefaults;

/// <summary>
/// Turns every exception that reaches the edge into problem details: malformed input into a 400 that says
/// what was wrong and where, timeouts into 504, anything else into a 500 without a stack trace.
/// </summary>
internal sealed class LabExceptionHandler(IProblemDetailsService problems, ILogger<LabExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title, detail) = exception switch
        {
            BadHttpRequestException bad => (bad.StatusCode, "Bad request", Describe(bad)),
            TimeoutException timeout => (StatusCodes.Status504GatewayTimeout, "Timed out", timeout.Message),
            OperationCanceledException when context.RequestAborted.IsCancellationRequested =>
                (StatusCodes.Status499ClientClosedRequest, "Client closed request", "The client gave up before the answer."),
            _ => (StatusCodes.Status500InternalServerError, "Internal error", $"{exception.GetType().Name}: {exception.Message}"),
        };

        if (status >= 500)
        {
            logger.LogError(exception, "Request {Method} {Path} failed", context.Request.Method, context.Request.Path);
        }

        context.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
        });
    }

    private static string Describe(BadHttpRequestException bad) => bad.InnerException switch
    {
        JsonException json when json.Path is { Length: > 0 } => $"{bad.Message} The JSON is invalid at '{json.Path}': {FirstLine(json.Message)}",
        JsonException json => $"{bad.Message} {FirstLine(json.Message)}",
        _ => bad.Message,
    };

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();
}

/// <summary>
/// Writes problem details as JSON whatever the request's Accept header says. The default writer writes only for clients
/// that accept JSON, and leaves the others a bare status with an empty body, which says nothing about what was wrong.
/// </summary>
internal sealed class AnyAcceptProblemDetailsWriter(IOptions<ProblemDetailsOptions> options, IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json) : IProblemDetailsWriter
{
    public bool CanWrite(ProblemDetailsContext context) => true;

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        problem.Status ??= context.HttpContext.Response.StatusCode;
        problem.Title ??= ReasonPhrases.GetReasonPhrase(problem.Status.Value);
        options.Value.CustomizeProblemDetails?.Invoke(context);
        var response = context.HttpContext.Response;
        return new ValueTask(response.WriteAsJsonAsync(problem, problem.GetType(), json.Value.SerializerOptions, "application/problem+json",
            context.HttpContext.RequestAborted));
    }
}

public static class ProblemDetailsHandling
{
    /// <summary>Problem details for exceptions and for bare error status codes (404 from routing, 405, 415...).</summary>
    public static WebApplication UseLabProblemDetails(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.Use(RefuseUnknownCharsetAsync);
        return app;
    }

    /// <summary>
    /// A body whose Content-Type names a charset .NET does not know cannot be read at all (the JSON reader throws before
    /// any endpoint runs): answer 415 naming the header, as for any content type the shop does not take.
    /// </summary>
    private static async Task RefuseUnknownCharsetAsync(HttpContext context, RequestDelegate next)
    {
        if (MediaTypeHeaderValue.TryParse(context.Request.ContentType, out var media) && media.Charset.HasValue && media.Encoding is null)
        {
            const string field = "Content-Type";
            var message = $"The charset '{media.Charset}' of {field} is not a known encoding; send utf-8.";
            context.Response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails = new HttpValidationProblemDetails(new Dictionary<string, string[]> { [field] = [message] })
                {
                    Status = StatusCodes.Status415UnsupportedMediaType,
                    Title = $"Invalid {field}",
                    Detail = message,
                },
            });
            return;
        }

        await next(context);
    }

    public static IResult Validation(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] },
            title: $"Invalid {field}", detail: message);

    public static IResult NotFound(string what, string detail) =>
        TypedResults.Problem(title: $"{what} not found", detail: detail, statusCode: StatusCodes.Status404NotFound);
}
