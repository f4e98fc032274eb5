using System.CommandLine;

namespace Vios.Host.Ops;

/// <summary>PLACEHOLDER: `vios ctl`, to be replaced by the full implementation.</summary>
public static class CtlCommand
{
    public static Command Create() => new("ctl", "Talk to a node's ops endpoint");
}
