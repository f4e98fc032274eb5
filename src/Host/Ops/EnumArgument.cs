namespace Vios.Host.Ops;

/// <summary>
/// Reads an option whose value is one of an enum's names (<c>--policy spread</c>, <c>--mode cow</c>).
/// <see cref="Enum.TryParse{TEnum}(string, bool, out TEnum)"/> also takes numbers, defined or not
/// ("7", "-1"), and lists of names ("full,cow"); only a defined name, in any case, is accepted here.
/// </summary>
public static class EnumArgument
{
    public static bool TryParse<TEnum>(string text, out TEnum value)
        where TEnum : struct, Enum
    {
        value = default;
        var name = Enum.GetNames<TEnum>().FirstOrDefault(n => string.Equals(n, text.Trim(), StringComparison.OrdinalIgnoreCase));
        if (name is null) return false;
        value = Enum.Parse<TEnum>(name);
        return true;
    }

    /// <summary>The values an operator may type, as the usage says them: "locality, spread, balanced".</summary>
    public static string Choices<TEnum>()
        where TEnum : struct, Enum =>
        string.Join(", ", Enum.GetNames<TEnum>().Select(n => n.ToLowerInvariant()));

    /// <summary>The refusal for <paramref name="text"/> given to <paramref name="option"/>, naming every valid value.</summary>
    public static string NotOneOf<TEnum>(string option, string text)
        where TEnum : struct, Enum =>
        $"{option} '{text}' is not one of {Choices<TEnum>()}";
}
