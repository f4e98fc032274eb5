using System.CommandLine;
using Vios.Host.Demo;
using Vios.Host.Node;
using Vios.Host.Ops;

var root = new RootCommand("Vios.Actors: a virtualised data centre as an Akka.NET cluster")
{
    NodeCommand.Create(),
    DemoCommand.Create(),
    CtlCommand.Create(),
};

var parse = root.Parse(args);
// The node installs its own SIGINT/SIGTERM handling (graceful leave), so the parser must not.
return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
