using Akka.Actor;
using Akka.Event;
using Vios.Actors.Availability;
using Vios.Testing;

namespace Vios.Persistence.Tests.Serialization;

/// <summary>
/// The Newtonsoft fallback is off: a message of a type with no serializer binding does not cross the
/// wire between two real ActorSystems (with its .NET type name), it is dropped with an error.
/// </summary>
public sealed class UnboundTypeSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private readonly TempDirectory _directory;

    public UnboundTypeSpecs()
        : this(new TempDirectory())
    {
    }

    private UnboundTypeSpecs(TempDirectory directory)
        : base(HaManagerHarness.Config(directory.Sub("a"))) => _directory = directory;

    [Fact]
    public async Task A_message_of_an_unbound_type_is_not_delivered_to_another_system_and_is_logged()
    {
        var other = ActorSystem.Create("vios", HaManagerHarness.Config(_directory.Sub("b")));
        try
        {
            var receiver = CreateTestProbe(other);
            var address = ((ExtendedActorSystem)other).Provider.DefaultAddress;
            var remote = await Sys.ActorSelection(receiver.Ref.Path.ToStringWithAddress(address)).ResolveOne(Wait);
            var errors = CreateTestProbe();
            Sys.EventStream.Subscribe(errors.Ref, typeof(Error));

            remote.Tell(new NotBound("by type name"));
            // A bound message after it: what arrives first shows whether the unbound one crossed.
            remote.Tell(new HaRefused("probe", "bound"));

            var error = await errors.FishForMessageAsync<Error>(e => e.ToString().Contains(nameof(NotBound)), Wait);
            Assert.Contains("allow-unregistered-types", error.ToString());
            Assert.Equal(new HaRefused("probe", "bound"), await receiver.ExpectMsgAsync<HaRefused>(Wait));
        }
        finally
        {
            await other.Terminate();
        }
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        _directory.Dispose();
    }

    /// <summary>A record of ours that does not implement IViosMessage: no binding, so no serializer.</summary>
    public sealed record NotBound(string Text);
}
