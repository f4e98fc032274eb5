namespace Vios.Host.Node;

/// <summary>
/// Checks that a HOCON text's brackets and quotes are balanced before Akka parses it. Akka's parser
/// accepts an unclosed <c>[</c> or <c>"</c> silently and loops forever on some stray closers
/// (<c>roles = [vios }}}</c>), so a typo in --config would otherwise start a misconfigured node or hang it.
/// </summary>
public static class HoconStructure
{
    /// <summary>Returns null when the structure is sound, otherwise what is wrong and where.</summary>
    public static string? FindError(string text)
    {
        var open = new Stack<(char Bracket, int Line)>();
        var line = 1;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            switch (c)
            {
                case '\n':
                    line++;
                    break;
                case '#':
                case '/' when i + 1 < text.Length && text[i + 1] == '/':
                    while (i + 1 < text.Length && text[i + 1] != '\n') i++;
                    break;
                case '"' when text.AsSpan(i).StartsWith("\"\"\""):
                    var close = text.IndexOf("\"\"\"", i + 3, StringComparison.Ordinal);
                    if (close < 0) return $"line {line}: unterminated \"\"\" string";
                    line += text.AsSpan(i, close - i).Count('\n');
                    i = close + 2;
                    break;
                case '"':
                    var start = line;
                    for (i++; i < text.Length && text[i] != '"'; i++)
                    {
                        if (text[i] == '\\') i++;
                        else if (text[i] == '\n') return $"line {start}: unterminated string";
                    }
                    if (i >= text.Length) return $"line {start}: unterminated string";
                    break;
                case '{' or '[':
                    open.Push((c, line));
                    break;
                case '}' or ']':
                    var expected = c == '}' ? '{' : '[';
                    if (open.Count == 0) return $"line {line}: '{c}' closes nothing";
                    var (bracket, openedAt) = open.Pop();
                    if (bracket != expected) return $"line {line}: '{c}' closes the '{bracket}' opened at line {openedAt}";
                    break;
            }
        }
        return open.Count == 0 ? null : $"line {open.Peek().Line}: '{open.Peek().Bracket}' is never closed";
    }
}
