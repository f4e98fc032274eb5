using System.IO.Hashing;
using Akka.Actor;
using Vios.Actors.Kernel;

namespace Vios.Actors.Partitions;

/// <summary>The <c>wpar</c> commands: each a call on the partition's <see cref="GuestKernel"/>, answered to the asker.</summary>
public sealed partial class LparActor
{
    private static readonly TimeSpan MigrationTimeout = TimeSpan.FromSeconds(30);

    private void ReceiveWparCommands()
    {
        Receive<ListWpars>(list =>
        {
            if (RunningKernel(list.Name) is { } kernel) Sender.Tell(new WparList(list.Name, _node, kernel.ListWpars()));
        });
        Receive<ShowWpar>(show =>
        {
            if (FindWpar(show.Name, show.Wpar) is var (kernel, wpar)) Sender.Tell(WparShown.Of(show.Name, kernel, wpar));
        });
        Receive<CreateWpar>(create =>
        {
            if (RunningKernel(create.Name) is not { } kernel) return;
            if (create.Demo)
            {
                var session = ScriptedSession.Run(kernel, create.Wpar);
                if (session.Ok) Sender.Tell(WparShown.Of(create.Name, kernel, kernel.Wpar(session.Value.WparId)));
                else RefuseWpar(create.Name, $"cannot create WPAR {create.Wpar} in '{create.Name}': {session.Error}");
                return;
            }
            var created = kernel.CreateWpar(create.Wpar);
            if (created.Ok) Sender.Tell(WparShown.Of(create.Name, kernel, created.Value));
            else RefuseWpar(create.Name, $"cannot create WPAR {create.Wpar} in '{create.Name}': {created.Error}");
        });
        Receive<CheckpointWpar>(checkpoint =>
        {
            if (FindWpar(checkpoint.Name, checkpoint.Wpar) is not var (kernel, wpar)) return;
            // S10: the model freezes the WPAR's streams for the checkpoint and thaws them after.
            var image = kernel.Checkpoint(wpar.Id);
            var bytes = WparImageCodec.Encode(image);
            var reply = new WparCheckpointed(checkpoint.Name, _node, wpar.Name, bytes.Length, XxHash64.HashToUInt64(bytes),
                image.Processes.Length, image.IpcObjects, image.Ptys.Length, image.Streams.Length, 0);
            ImageStore(wpar.Name).Tell(new StoreWparImage(bytes, reply), Sender);
        });
        Receive<RestartWpar>(restart =>
        {
            if (RunningKernel(restart.Name) is null) return;
            if (restart.OnNode != _node)
            {
                RefuseWpar(restart.Name, $"'{restart.Name}' runs on {_node}, not on {restart.OnNode}: restore or fail it over there first");
                return;
            }
            ImageStore(restart.Wpar).Tell(new LoadWparImage(restart, Sender));
        });
        Receive<WparImageLoaded>(loaded =>
        {
            var (request, image, replyTo) = (loaded.Request, loaded.Image, loaded.ReplyTo);
            if (_lpar.Kernel is not { } kernel)
                replyTo.Tell(new LparRefused(request.Name, $"'{request.Name}' stopped before WPAR {request.Wpar} could be restarted"));
            else if (image is null)
                replyTo.Tell(new LparRefused(request.Name, $"WPAR {request.Wpar} of '{request.Name}' has no checkpoint: `wpar checkpoint {request.Name} {request.Wpar}` first"));
            else if (!WparImageCodec.TryDecode(image, out var decoded, out var error))
                replyTo.Tell(new LparRefused(request.Name, $"the checkpoint of WPAR {request.Wpar} cannot be read: {error!.Kind}: {error.Message}"));
            else
            {
                // The checkpoint replaces the WPAR if it runs here (restarted from its image, it has new real
                // ids). It is tried on a scratch kernel first: an image the kernel refuses leaves the running WPAR alone.
                var options = new RestartOptions(request.Wpar);
                if (kernel.FindWpar(request.Wpar) is not null
                    && new GuestKernel(KernelIdentity.For(_node)).Restart(decoded!, options) is RestartRefused refused)
                {
                    replyTo.Tell(new LparRefused(request.Name, $"the checkpoint of WPAR {request.Wpar} was refused ({refused.Refusal}: {refused.Reason}); the running WPAR is unchanged"));
                    return;
                }
                if (kernel.FindWpar(request.Wpar) is { } running) kernel.RemoveWpar(running.Id);
                replyTo.Tell(Restarted(request.Name, request.Wpar, kernel, kernel.Restart(decoded!, options)));
            }
        });
        Receive<RestartWparImage>(restart =>
        {
            if (RunningKernel(restart.Name) is { } kernel)
                Sender.Tell(Restarted(restart.Name, restart.Wpar, kernel, kernel.Restart(restart.Image, new RestartOptions(restart.Wpar))));
        });
        Receive<MigrateWpar>(migrate =>
        {
            if (migrate.ToLpar == migrate.Name)
            {
                RefuseWpar(migrate.Name, $"WPAR {migrate.Wpar} is in '{migrate.Name}' already: migrate it to another partition");
                return;
            }
            if (FindWpar(migrate.Name, migrate.Wpar) is not var (kernel, wpar)) return;
            var before = WparShown.Of(migrate.Name, kernel, wpar);
            var bytes = WparImageCodec.Encode(kernel.Checkpoint(wpar.Id));
            var replyTo = Sender;
            _manager.Ask<object>(new RestartWparImage(migrate.ToLpar, wpar.Name, bytes), MigrationTimeout)
                .PipeTo(Self, success: reply => new WparMigrationAnswered(migrate, before, bytes.Length, reply, replyTo),
                    failure: e => new WparMigrationAnswered(migrate, before, bytes.Length,
                        new LparRefused(migrate.ToLpar, $"'{migrate.ToLpar}' did not answer within {MigrationTimeout.TotalSeconds:0} s: {e.Message}"), replyTo));
        });
        Receive<WparMigrationAnswered>(answered =>
        {
            var (migrate, before) = (answered.Request, answered.Before);
            if (answered.Reply is not WparShown after)
            {
                answered.ReplyTo.Tell(answered.Reply is LparRefused refused
                    ? refused with { Reason = $"WPAR {migrate.Wpar} stays in '{migrate.Name}': {refused.Reason}" }
                    : new LparRefused(migrate.Name, $"WPAR {migrate.Wpar} stays in '{migrate.Name}': unexpected reply {answered.Reply.GetType().Name}"));
                return;
            }
            // Only now that it runs in the target is it removed here.
            if (_lpar.Kernel?.FindWpar(migrate.Wpar) is { } wpar) _lpar.Kernel.RemoveWpar(wpar.Id);
            answered.ReplyTo.Tell(new WparMigrated(migrate.Name, migrate.ToLpar, migrate.Wpar, before.Node, after.Node, answered.ImageBytes,
                before.View, after.View, before.RealIds, after.RealIds) { FingerprintBefore = before.Fingerprint, FingerprintAfter = after.Fingerprint });
        });
    }

    private static object Restarted(string lpar, string name, GuestKernel kernel, RestartResult result) => result switch
    {
        WparRestarted restarted => WparShown.Of(lpar, kernel, kernel.Wpar(restarted.WparId)),
        RestartRefused refused => new LparRefused(lpar, $"WPAR {name} was not restarted in '{lpar}' on {kernel.Identity.Node}: {refused.Refusal}: {refused.Reason}"),
        _ => new LparRefused(lpar, $"unexpected restart result {result}"),
    };

    /// <summary>The kernel of this running partition, or null after telling the asker why there is none.</summary>
    private GuestKernel? RunningKernel(string name)
    {
        if (_lpar.Kernel is { } kernel) return kernel;
        RefuseWpar(name, $"'{name}' is {_lpar.State.ToString().ToLowerInvariant()}: WPARs run in a running partition");
        return null;
    }

    private (GuestKernel Kernel, Wpar Wpar)? FindWpar(string name, string wparName)
    {
        if (RunningKernel(name) is not { } kernel) return null;
        if (kernel.FindWpar(wparName) is { } wpar) return (kernel, wpar);
        RefuseWpar(name, $"'{name}' has no WPAR named {wparName}");
        return null;
    }

    private void RefuseWpar(string name, string reason) => Sender.Tell(new LparRefused(name, reason));

    private IActorRef ImageStore(string wpar)
    {
        var childName = $"wpar-{Uri.EscapeDataString(wpar)}";
        var child = Context.Child(childName);
        return child.IsNobody() ? Context.ActorOf(WparImageStoreActor.Props(_lpar.Definition.Name, wpar, OwnerClaim.For(_lpar.Definition)), childName) : child;
    }

    private sealed record WparMigrationAnswered(MigrateWpar Request, WparShown Before, int ImageBytes, object Reply, IActorRef ReplyTo);
}
