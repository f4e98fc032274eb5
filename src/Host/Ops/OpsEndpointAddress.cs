using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Vios.Host.Ops;

/// <summary>Where <c>vios ctl</c> connects: <c>HOST:PORT</c>, <c>[IPv6]:PORT</c>, or a host alone (port 9110).</summary>
public sealed record OpsEndpointAddress(string Host, int Port)
{
    public static OpsEndpointAddress Default { get; } = new("127.0.0.1", OpsProtocol.DefaultPort);

    public static bool TryParse(string text, [NotNullWhen(true)] out OpsEndpointAddress? endpoint)
    {
        endpoint = null;
        var value = text.Trim();
        string host;
        var port = OpsProtocol.DefaultPort;
        if (value.StartsWith('['))
        {
            var close = value.IndexOf(']');
            if (close < 0) return false;
            host = value[1..close];
            var rest = value[(close + 1)..];
            if (rest.Length > 0 && !(rest[0] == ':' && TryParsePort(rest[1..], out port))) return false;
        }
        else
        {
            var colon = value.LastIndexOf(':');
            host = colon < 0 ? value : value[..colon];
            if (colon >= 0 && (host.Contains(':') || !TryParsePort(value[(colon + 1)..], out port))) return false;
        }
        if (host.Length == 0) return false;
        endpoint = new OpsEndpointAddress(host, port);
        return true;
    }

    public override string ToString() => Host.Contains(':') ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    private static bool TryParsePort(string text, out int port) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is > 0 and <= 65535;
}
