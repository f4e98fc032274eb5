using Akka.Configuration;

namespace Vios.Actors.Operations;

/// <summary>Typed view of <c>vios.ops</c>'s control-view settings, read once.</summary>
public sealed record ControlViewSettings(TimeSpan PublishInterval)
{
    public static ControlViewSettings Default { get; } = new(TimeSpan.FromSeconds(1));

    public static ControlViewSettings FromConfig(Config config) =>
        new(config.Duration("vios.ops.view-publish-interval", Default.PublishInterval));
}
