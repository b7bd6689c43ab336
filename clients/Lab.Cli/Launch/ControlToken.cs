using System.Security.Cryptography;

namespace Lab.Cli.Launch;

/// <summary>The control API's token: a new random one per `lab up`, kept in DATA_DIR/token (readable by the owner only).</summary>
public static class ControlToken
{
    public const string FileName = "token";

    public static string CreateFor(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        var path = Path.Combine(dataDirectory, FileName);
        File.WriteAllText(path, token);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return token;
    }
}
