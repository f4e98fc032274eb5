namespace Vios.Host.Ops;

/// <summary>
/// Where an ops token comes from, for <c>vios node</c> and <c>vios ctl</c> alike: a flag, a file, or
/// the environment (<see cref="OpsProtocol.TokenVariable"/>), in that order. A token in a flag shows
/// in <c>/proc/*/cmdline</c> to every user of the machine; a file (readable by its owner only) or the
/// environment keeps it out of there.
/// </summary>
public static class OpsTokenSource
{
    /// <summary>A token file is a few bytes; anything larger is not one.</summary>
    public const int MaxFileBytes = 4096;

    /// <summary>
    /// The token, or null for none, or a problem to report (the file is missing, unreadable, empty,
    /// or given together with a token flag). The file's content is the token, without the line end
    /// an editor or <c>echo</c> leaves.
    /// </summary>
    public static (string? Token, string? Problem) Resolve(string? flag, string? file, string? environment, string flagName, string fileFlagName)
    {
        if (flag is not null && file is not null) return (null, $"give the token once: {flagName} or {fileFlagName}, not both");
        if (flag is not null) return (Empty(flag), null);
        if (file is not null) return Read(file, fileFlagName);
        return (Empty(environment), null);
    }

    private static (string? Token, string? Problem) Read(string file, string fileFlagName)
    {
        try
        {
            var info = new FileInfo(file);
            if (!info.Exists) return (null, $"{fileFlagName} {file}: no such file");
            if (info.Length > MaxFileBytes) return (null, $"{fileFlagName} {file}: {info.Length} bytes is not a token (at most {MaxFileBytes})");
            var token = File.ReadAllText(file).Trim();
            return token.Length == 0 ? (null, $"{fileFlagName} {file}: the file is empty") : (token, null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return (null, $"{fileFlagName} {file}: {e.Message}");
        }
    }

    private static string? Empty(string? token) => string.IsNullOrEmpty(token) ? null : token;
}
