using System.Security.Cryptography;
using System.Text;

namespace Vios.Host.Ops;

/// <summary>
/// Checks the token a request presents. A configured token is always enforced; off loopback one is
/// mandatory (<see cref="Node.OpsSettings.RequiresToken"/>), whatever address the client came from.
/// </summary>
public sealed class OpsTokenCheck(string? expected)
{
    public const string TokenRequired =
        $"this ops endpoint requires a token: pass --token or set {OpsProtocol.TokenVariable}";

    public const string TokenRefused =
        $"this ops endpoint refused the token: pass the node's --ops-token with --token or {OpsProtocol.TokenVariable}";

    // Hashes have a fixed length, so the comparison leaks neither content nor length through timing.
    private readonly byte[]? _expectedHash = expected is null ? null : Hash(expected);

    /// <summary>Why the request is refused, or null when it may proceed.</summary>
    public string? Refusal(string? presented)
    {
        if (_expectedHash is null) return null;
        if (string.IsNullOrEmpty(presented)) return TokenRequired;
        return CryptographicOperations.FixedTimeEquals(Hash(presented), _expectedHash) ? null : TokenRefused;
    }

    private static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));
}
