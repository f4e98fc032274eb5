using Akka.Configuration;

namespace Vios.Actors;

/// <summary>
/// Reading a configuration value so that a bad one is a <see cref="ConfigurationException"/> naming the key.
/// HOCON's own <see cref="Config.GetTimeSpan"/> throws a bare <see cref="FormatException"/> ("The input
/// string '-1s' was not in a correct format.") that does not say which setting of which file is wrong.
/// </summary>
public static class ConfigValues
{
    /// <exception cref="ConfigurationException">The value at <paramref name="path"/> is not a finite duration.</exception>
    public static TimeSpan Duration(this Config config, string path, TimeSpan fallback)
    {
        try
        {
            return config.GetTimeSpan(path, fallback, allowInfinite: false);
        }
        catch (Exception e) when (e is FormatException or OverflowException or ConfigurationException)
        {
            throw new ConfigurationException($"{path} must be a duration such as 500ms or 2s; got '{config.GetString(path)}'");
        }
    }
}
