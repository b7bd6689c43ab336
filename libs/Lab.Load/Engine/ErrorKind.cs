namespace Lab.Load.Engine;

/// <summary>Why a request or journey failed.</summary>
public enum ErrorKind
{
    None,

    /// <summary>The server answered with a status the step did not expect (any non-2xx unless stated).</summary>
    HttpStatus,

    /// <summary>No response within the request timeout.</summary>
    Timeout,

    /// <summary>Nothing listened at the target (connection refused).</summary>
    ConnectionRefused,

    /// <summary>The connection failed or closed mid-request.</summary>
    Connection,

    /// <summary>The response was not valid HTTP.</summary>
    Protocol,

    /// <summary>The response was HTTP-valid but the journey could not go on (missing field, order never final).</summary>
    InvalidResponse,

    /// <summary>An unexpected exception in the client itself.</summary>
    Client,
}

public static class ErrorKindNames
{
    /// <summary>Stable, kebab-case names used in reports and JSON.</summary>
    public static string ToName(this ErrorKind kind) => kind switch
    {
        ErrorKind.None => "none",
        ErrorKind.HttpStatus => "http-status",
        ErrorKind.Timeout => "timeout",
        ErrorKind.ConnectionRefused => "connection-refused",
        ErrorKind.Connection => "connection",
        ErrorKind.Protocol => "protocol",
        ErrorKind.InvalidResponse => "invalid-response",
        _ => "client",
    };
}
