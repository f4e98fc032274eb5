using Vios.Actors.Partitions;

namespace Vios.Actors.Tests.Partitions;

/// <summary>Remus's output commit (<see cref="OutputGate"/>): held outputs leave with their epoch's commit, never before, and a lost copy releases none.</summary>
public sealed class OutputGateSpecs
{
    [Fact]
    public void Outputs_leave_at_once_unless_held_and_held_ones_leave_with_the_commit_of_their_epoch()
    {
        var gate = new OutputGate();
        gate.Produced(3);
        Assert.Equal((0L, 3L), (gate.Held, gate.Released));

        gate.Holding = true;
        gate.Produced(5);
        gate.Seal(1);
        gate.Produced(2);
        gate.Seal(2);
        gate.Produced(4);
        Assert.Equal((11L, 3L), (gate.Held, gate.Released));

        // Epoch 1 commits: its 5 leave; epoch 2's 2 and the open epoch's 4 wait.
        gate.Commit(1);
        Assert.Equal((6L, 8L), (gate.Held, gate.Released));
        gate.Commit(2);
        Assert.Equal((4L, 10L), (gate.Held, gate.Released));
    }

    [Fact]
    public void A_copy_that_lost_its_ownership_drops_what_it_holds_and_releasing_all_lets_everything_go()
    {
        var gate = new OutputGate { Holding = true };
        gate.Produced(5);
        gate.Seal(1);
        gate.Produced(2);

        gate.Drop();
        gate.Commit(1);

        Assert.Equal((0L, 0L, 7L), (gate.Held, gate.Released, gate.Dropped));

        gate.Produced(3);
        gate.Seal(2);
        gate.Produced(1);
        gate.ReleaseAll();
        Assert.Equal((0L, 4L), (gate.Held, gate.Released));
        Assert.False(gate.Holding);
    }
}
