using System.CommandLine;

namespace Vios.Host.Demo;

/// <summary>PLACEHOLDER: `vios demo`.</summary>
public static class DemoCommand
{
    public static Command Create() => new("demo", "Run a lighthouse and three vios nodes in one process");
}
