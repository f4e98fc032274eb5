using System.Diagnostics.CodeAnalysis;
using Akka.Actor;
using Vios.Host.Node;

namespace Vios.Host.Ops.Palettes;

/// <summary>The ADDR of cluster commands: <c>akka.tcp://vios@host:port</c> or <c>host:port</c>.</summary>
public static class MemberAddress
{
    public static bool TryParse(string text, [NotNullWhen(true)] out Address? address, [NotNullWhen(false)] out string? error)
    {
        address = null;
        var value = text.Trim();
        if (!value.Contains("://", StringComparison.Ordinal)) value = $"akka.tcp://{NodeConfigBuilder.SystemName}@{value}";
        error = $"'{text}' is not a member address (expected host:port or akka.tcp://{NodeConfigBuilder.SystemName}@host:port)";
        if (!Address.TryParse(value, out var parsed) || parsed.Host is null || parsed.Port is null or <= 0) return false;
        if (parsed.System != NodeConfigBuilder.SystemName)
        {
            error = $"'{text}' names actor system '{parsed.System}'; vios nodes form the system '{NodeConfigBuilder.SystemName}'";
            return false;
        }
        address = parsed;
        error = null;
        return true;
    }
}
