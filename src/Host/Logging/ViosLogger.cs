using System.Globalization;
using System.Text;
using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;

namespace Vios.Host.Logging;

/// <summary>
/// The node's Akka logger. The console gets one concise line per event at <c>vios.log.console-level</c>;
/// the file at <c>vios.log.file</c> gets every event the node logs (Info and above unless the console
/// asks for Debug) with timestamps, thread, source and full exception details.
/// </summary>
public sealed class ViosLogger : ActorBase, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    private readonly LogLevel? _consoleLevel;
    private readonly string _nodeName;
    private readonly string _filePath;
    private StreamWriter? _file;

    public ViosLogger()
    {
        var config = Context.System.Settings.Config;
        _consoleLevel = ParseLevel(config.GetString("vios.log.console-level", "INFO"));
        _nodeName = config.GetString("vios.node.name", "");
        _filePath = config.GetString("vios.log.file", "");
    }

    /// <summary>Parses a level name as operators type it; <c>off</c> (null) silences the console.</summary>
    public static LogLevel? ParseLevel(string text) => text.Trim().ToUpperInvariant() switch
    {
        "OFF" or "NONE" => null,
        "DEBUG" or "TRACE" or "VERBOSE" => LogLevel.DebugLevel,
        "INFO" or "INFORMATION" => LogLevel.InfoLevel,
        "WARN" or "WARNING" => LogLevel.WarningLevel,
        "ERROR" => LogLevel.ErrorLevel,
        _ => throw new ArgumentException($"unknown log level '{text}' (debug, info, warning, error, off)"),
    };

    /// <summary>The level Akka must publish at so that both the console and the file get what they want.</summary>
    public static string AkkaLogLevelFor(LogLevel? consoleLevel) =>
        consoleLevel == LogLevel.DebugLevel ? "DEBUG" : "INFO";

    protected override bool Receive(object message)
    {
        switch (message)
        {
            case InitializeLogger:
                OpenFile();
                Sender.Tell(new LoggerInitialized());
                return true;
            case LogEvent logEvent:
                WriteConsole(logEvent);
                WriteFile(logEvent);
                return true;
            default:
                return false;
        }
    }

    protected override void PostStop()
    {
        _file?.Dispose();
        base.PostStop();
    }

    private void OpenFile()
    {
        if (string.IsNullOrEmpty(_filePath)) return;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(_filePath))!);
            var stream = new FileStream(_filePath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
            // Flushed per line: a node killed with SIGKILL must leave its last lines behind.
            _file = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"vios: cannot write the log file {_filePath}: {e.Message}; logging to the console only");
        }
    }

    private void WriteConsole(LogEvent e)
    {
        if (_consoleLevel is not { } level || ConsoleLevelOf(e) < level) return;
        var line = $"{e.Timestamp.ToLocalTime():HH:mm:ss} {Short(e.LogLevel())} {_nodeName} {ShortSource(e.LogSource)}: {FirstLine(e)}";
        if (e.LogLevel() >= LogLevel.WarningLevel) Console.Error.WriteLine(line);
        else Console.Out.WriteLine(line);
    }

    private void WriteFile(LogEvent e)
    {
        if (_file is null) return;
        var text = new StringBuilder()
            .Append(e.Timestamp.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture))
            .Append(' ').Append(Short(e.LogLevel()))
            .Append(" [").Append(e.Thread.ManagedThreadId).Append("] ")
            .Append(e.LogSource).Append(": ")
            .Append(e.Message);
        if (e.Cause is not null) text.AppendLine().Append(e.Cause);
        _file.WriteLine(text.ToString());
    }

    /// <summary>
    /// Akka.Remote reports a peer that closed its connection cleanly (it left, or stopped) as a
    /// Warning and an Error, though nothing failed; the cluster already logs the member leaving.
    /// Those lines stay in the file and drop to Info on the console.
    /// </summary>
    private static LogLevel ConsoleLevelOf(LogEvent e) =>
        e.Cause?.GetType().Name == "EndpointDisassociatedException"
        || (e.Message?.ToString() is { } text && text.StartsWith("Association with remote system", StringComparison.Ordinal)
            && text.Contains("EndpointDisassociatedException", StringComparison.Ordinal))
            ? LogLevel.InfoLevel
            : e.LogLevel();

    private static string FirstLine(LogEvent e)
    {
        var message = e.Message?.ToString() ?? "";
        var newline = message.IndexOfAny(['\r', '\n']);
        if (newline >= 0) message = message[..newline];
        return e.Cause is null ? message : $"{message} ({e.Cause.GetType().Name}: {e.Cause.Message.Split('\n')[0]})";
    }

    private static string ShortSource(string source)
    {
        var withoutAddress = source.Split('(')[0].Trim();
        var slash = withoutAddress.LastIndexOf('/');
        var dot = withoutAddress.LastIndexOf('.');
        var cut = Math.Max(slash, dot);
        return cut >= 0 && cut < withoutAddress.Length - 1 ? withoutAddress[(cut + 1)..] : withoutAddress;
    }

    private static string Short(LogLevel level) => level switch
    {
        LogLevel.DebugLevel => "DBG",
        LogLevel.InfoLevel => "INF",
        LogLevel.WarningLevel => "WRN",
        _ => "ERR",
    };
}
