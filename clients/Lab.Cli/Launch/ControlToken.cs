using System.Security.Cryptography;

namespace Lab.Cli.Launch;

/// <summary>
/// The lab's secrets, new and random for every `lab up`, each kept in a file of DATA_DIR readable by the owner only: the
/// control API's token (DATA_DIR/token) and the operator's API key at payments (DATA_DIR/payments-key).
/// </summary>
public static class ControlToken
{
    public const string FileName = "token";

    /// <summary>The file of the operator's payments key: what a person or a test sends to charge or refund directly.</summary>
    public const string PaymentsKeyFileName = "payments-key";

    /// <summary>A new secret, written to <paramref name="fileName"/> in <paramref name="dataDirectory"/>.</summary>
    public static string CreateFor(string dataDirectory, string fileName = FileName)
    {
        Directory.CreateDirectory(dataDirectory);
        var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        var path = Path.Combine(dataDirectory, fileName);
        File.WriteAllText(path, token);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return token;
    }

    /// <summary>A secret held in memory only (the shop's payments key: the processes get it, no file keeps it).</summary>
    public static string CreateInMemory() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
}
