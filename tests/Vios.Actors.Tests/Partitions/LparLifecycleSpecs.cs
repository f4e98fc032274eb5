using Vios.Actors.Partitions;

namespace Vios.Actors.Tests.Partitions;

public sealed class LparLifecycleSpecs
{
    [Theory]
    [InlineData(LparState.Defined, LparTransition.Activate, LparState.Activating)]
    [InlineData(LparState.Activating, LparTransition.ActivationCompleted, LparState.Running)]
    [InlineData(LparState.Running, LparTransition.Quiesce, LparState.Quiesced)]
    [InlineData(LparState.Quiesced, LparTransition.Resume, LparState.Running)]
    [InlineData(LparState.Running, LparTransition.Stop, LparState.Stopped)]
    [InlineData(LparState.Quiesced, LparTransition.Stop, LparState.Stopped)]
    [InlineData(LparState.Running, LparTransition.Fail, LparState.Failed)]
    [InlineData(LparState.Failed, LparTransition.Activate, LparState.Activating)]
    [InlineData(LparState.Stopped, LparTransition.Activate, LparState.Activating)]
    public void Allowed_transitions_move_to_the_next_state(LparState from, LparTransition transition, LparState to) =>
        Assert.Equal((to, (string?)null), LparLifecycle.Apply(from, transition));

    [Theory]
    [InlineData(LparState.Running, LparTransition.Activate, "it is already running")]
    [InlineData(LparState.Quiesced, LparTransition.Activate, "it is quiesced: resume it instead")]
    [InlineData(LparState.Defined, LparTransition.Quiesce, "only a running partition can be quiesced; it is defined")]
    [InlineData(LparState.Running, LparTransition.Resume, "only a quiesced partition can be resumed; it is running")]
    [InlineData(LparState.Stopped, LparTransition.Stop, "it is stopped: there is nothing to stop")]
    [InlineData(LparState.Defined, LparTransition.Fail, "it is defined: it is not running, so it cannot fail")]
    [InlineData(LparState.Running, LparTransition.ActivationCompleted, "it is running, not activating")]
    public void Refused_transitions_say_why(LparState from, LparTransition transition, string reason) =>
        Assert.Equal((null, reason), LparLifecycle.Apply(from, transition));

    [Fact]
    public void Every_state_and_transition_has_an_answer()
    {
        foreach (var state in Enum.GetValues<LparState>())
        foreach (var transition in Enum.GetValues<LparTransition>())
        {
            var (next, refusal) = LparLifecycle.Apply(state, transition);
            Assert.True(next is not null ^ refusal is not null, $"{state} + {transition}");
        }
    }
}
