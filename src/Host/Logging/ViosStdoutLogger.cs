using Akka.Event;

namespace Vios.Host.Logging;

/// <summary>
/// Akka's minimal logger, used before <see cref="ViosLogger"/> starts and after it stops. It keeps
/// the console concise during startup and shutdown: warnings and errors only, one line each.
/// </summary>
public sealed class ViosStdoutLogger : MinimalLogger
{
    protected override void Log(object message)
    {
        if (message is not LogEvent e || e.LogLevel() < LogLevel.WarningLevel) return;
        var text = e.Message?.ToString() ?? "";
        var newline = text.IndexOfAny(['\r', '\n']);
        if (newline >= 0) text = text[..newline];
        Console.Error.WriteLine($"{e.Timestamp.ToLocalTime():HH:mm:ss} {(e.LogLevel() == LogLevel.WarningLevel ? "WRN" : "ERR")} {e.LogSource}: {text}");
    }
}
