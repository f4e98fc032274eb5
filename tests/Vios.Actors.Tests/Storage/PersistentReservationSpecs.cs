using CsCheck;
using Vios.Actors.Storage;

namespace Vios.Actors.Tests.Storage;

/// <summary>
/// S20: SCSI-3 persistent reservations on one logical unit (<see cref="PersistentReservations"/>)
/// against the rules of T10 SPC-4 5.13: each service action, each type's access table, the
/// generation, the unit attentions, and the patent's notification flow; then random command
/// sequences from three initiators against a reference table and the invariants.
/// </summary>
public sealed class PersistentReservationSpecs
{
    private const string A = "c0:50:76:00:00:00:00:02";
    private const string B = "c0:50:76:00:00:00:00:04";
    private const string C = "c0:50:76:00:00:00:00:06";

    private static ProutCommand Register(ulong key, ulong newKey) => new(ProutAction.Register, key, newKey);
    private static ProutCommand Reserve(ulong key, ReservationType type) => new(ProutAction.Reserve, key, 0, type);

    private static PersistentReservations RegisteredAB()
    {
        var pr = new PersistentReservations();
        Assert.True(pr.Out(A, Register(0, 0xA)).Outcome.IsGood);
        Assert.True(pr.Out(B, Register(0, 0xB)).Outcome.IsGood);
        return pr;
    }

    [Fact]
    public void Register_changes_and_removes_a_key_under_the_right_key_only_and_bumps_the_generation_each_time()
    {
        var pr = new PersistentReservations();
        // Unregistered: only a reservation key of zero; a zero service action key is a no-op.
        Assert.Equal(ScsiOutcome.Conflict, pr.Out(A, Register(5, 0xA)).Outcome);
        Assert.Equal(ScsiOutcome.Good, pr.Out(A, Register(0, 0)).Outcome);
        Assert.Equal(0u, pr.Generation);

        Assert.Equal(ScsiOutcome.Good, pr.Out(A, Register(0, 0xA)).Outcome);
        Assert.Equal(1u, pr.Generation);
        Assert.Equal(ScsiOutcome.Conflict, pr.Out(A, Register(0xB, 0xC)).Outcome);
        Assert.Equal(ScsiOutcome.Good, pr.Out(A, Register(0xA, 0xAA)).Outcome);
        Assert.Equal((2u, 0xAAul), (pr.Generation, pr.Registrations[A]));
        // REGISTER AND IGNORE EXISTING KEY: whatever key it gives.
        Assert.Equal(ScsiOutcome.Good, pr.Out(A, new ProutCommand(ProutAction.RegisterAndIgnoreExistingKey, 0x1234, 0xA)).Outcome);
        Assert.Equal((3u, 0xAul), (pr.Generation, pr.Registrations[A]));
        Assert.Equal(ScsiOutcome.Good, pr.Out(A, Register(0xA, 0)).Outcome);
        Assert.Empty(pr.Registrations);
        Assert.Equal(4u, pr.Generation);
    }

    [Fact]
    public void Reserve_and_release_need_the_registered_key_leave_the_generation_and_a_second_holder_conflicts()
    {
        var pr = RegisteredAB();
        var generation = pr.Generation;
        Assert.Equal(ScsiOutcome.Conflict, pr.Out(C, Reserve(0, ReservationType.WriteExclusive)).Outcome);
        Assert.Equal(ScsiOutcome.Conflict, pr.Out(A, Reserve(0xB, ReservationType.WriteExclusive)).Outcome);
        Assert.Equal(ScsiOutcome.Good, pr.Out(A, Reserve(0xA, ReservationType.WriteExclusive)).Outcome);
        // Again, same type: fine; another type, or another nexus: conflict.
        Assert.Equal(ScsiOutcome.Good, pr.Out(A, Reserve(0xA, ReservationType.WriteExclusive)).Outcome);
        Assert.Equal(ScsiOutcome.Conflict, pr.Out(A, Reserve(0xA, ReservationType.ExclusiveAccess)).Outcome);
        Assert.Equal(ScsiOutcome.Conflict, pr.Out(B, Reserve(0xB, ReservationType.WriteExclusive)).Outcome);

        // A release by a registrant that does not hold it does nothing; by the holder naming another type it is refused.
        Assert.Equal(ScsiOutcome.Good, pr.Out(B, new ProutCommand(ProutAction.Release, 0xB, 0, ReservationType.WriteExclusive)).Outcome);
        Assert.NotNull(pr.Reservation);
        Assert.Equal(ScsiOutcome.Check(Sense.InvalidRelease), pr.Out(A, new ProutCommand(ProutAction.Release, 0xA, 0, ReservationType.ExclusiveAccess)).Outcome);
        Assert.Equal(ScsiOutcome.Good, pr.Out(A, new ProutCommand(ProutAction.Release, 0xA, 0, ReservationType.WriteExclusive)).Outcome);
        Assert.Null(pr.Reservation);
        Assert.Equal(generation, pr.Generation);
        Assert.Empty(pr.PendingFor(B));
    }

    [Theory]
    [InlineData(ReservationType.WriteExclusive, true, true, true, false, true, false)]
    [InlineData(ReservationType.ExclusiveAccess, true, true, false, false, false, false)]
    [InlineData(ReservationType.WriteExclusiveRegistrantsOnly, true, true, true, true, true, false)]
    [InlineData(ReservationType.ExclusiveAccessRegistrantsOnly, true, true, true, true, false, false)]
    [InlineData(ReservationType.WriteExclusiveAllRegistrants, true, true, true, true, true, false)]
    [InlineData(ReservationType.ExclusiveAccessAllRegistrants, true, true, true, true, false, false)]
    public void Each_type_lets_the_holder_a_registrant_and_a_stranger_read_and_write_as_SPC_4_table_58_says(
        ReservationType type, bool holderReads, bool holderWrites, bool registrantReads, bool registrantWrites, bool strangerReads, bool strangerWrites)
    {
        var pr = RegisteredAB();
        Assert.True(pr.Out(A, Reserve(0xA, type)).Outcome.IsGood);

        Assert.Equal((holderReads, holderWrites), (pr.Access(A, DataAccess.Read).IsGood, pr.Access(A, DataAccess.Write).IsGood));
        Assert.Equal((registrantReads, registrantWrites), (pr.Access(B, DataAccess.Read).IsGood, pr.Access(B, DataAccess.Write).IsGood));
        Assert.Equal((strangerReads, strangerWrites), (pr.Access(C, DataAccess.Read).IsGood, pr.Access(C, DataAccess.Write).IsGood));
        Assert.Equal(ScsiStatus.ReservationConflict, pr.Access(C, DataAccess.Write).Status);
    }

    [Fact]
    public void The_patent_flow_a_peer_whose_registration_was_preempted_sees_the_indicator_once_registers_again_and_refreshes()
    {
        var pr = RegisteredAB();
        Assert.True(pr.Out(A, Reserve(0xA, ReservationType.WriteExclusiveRegistrantsOnly)).Outcome.IsGood);
        var before = pr.Generation;

        // A changes the reservation status: it removes B's registration (and B's write access).
        var preempt = pr.Out(A, new ProutCommand(ProutAction.Preempt, 0xA, 0xB, ReservationType.WriteExclusiveRegistrantsOnly));
        Assert.Equal(ScsiOutcome.Good, preempt.Outcome);
        Assert.Equal([B], preempt.Removed);
        Assert.Equal(before + 1, pr.Generation);
        Assert.Equal([Sense.RegistrationsPreempted], pr.PendingFor(B));

        // B's next access reports the indicator instead of running, once.
        var indicator = pr.Access(B, DataAccess.Read);
        Assert.Equal(ScsiOutcome.Check(Sense.RegistrationsPreempted), indicator);
        var sense = indicator.Sense!.Value.Fixed();
        Assert.Equal(((byte)0x70, (byte)0x06, (byte)0x2A, (byte)0x05), (sense[0], sense[2], sense[12], sense[13]));
        Assert.Equal(ScsiOutcome.Conflict, pr.Access(B, DataAccess.Write));
        // It registers again and refreshes its cached copy: reads and writes go on.
        Assert.True(pr.Out(B, new ProutCommand(ProutAction.RegisterAndIgnoreExistingKey, 0, 0xB)).Outcome.IsGood);
        Assert.Equal(ScsiOutcome.Good, pr.Access(B, DataAccess.Read));
        Assert.Equal(ScsiOutcome.Good, pr.Access(B, DataAccess.Write));
        Assert.Empty(pr.PendingFor(B));
    }

    [Fact]
    public void Preempting_the_holder_takes_its_reservation_and_a_changed_type_tells_the_registrants_that_stay()
    {
        var pr = RegisteredAB();
        Assert.True(pr.Out(C, Register(0, 0xC)).Outcome.IsGood);
        Assert.True(pr.Out(B, Reserve(0xB, ReservationType.WriteExclusive)).Outcome.IsGood);

        var taken = pr.Out(A, new ProutCommand(ProutAction.PreemptAndAbort, 0xA, 0xB, ReservationType.ExclusiveAccess));

        Assert.Equal([B], taken.Removed);
        Assert.Equal(new Reservation(A, 0xA, ReservationType.ExclusiveAccess), pr.Reservation);
        Assert.Equal([Sense.RegistrationsPreempted], pr.PendingFor(B));
        Assert.Equal([Sense.ReservationsReleased], pr.PendingFor(C));
        // A key nobody holds: conflict, nothing changes; a zero key without an all-registrants reservation: invalid.
        var generation = pr.Generation;
        Assert.Equal(ScsiOutcome.Conflict, pr.Out(A, new ProutCommand(ProutAction.Preempt, 0xA, 0x99, ReservationType.ExclusiveAccess)).Outcome);
        Assert.Equal(ScsiOutcome.Check(Sense.InvalidFieldInParameterList), pr.Out(A, new ProutCommand(ProutAction.Preempt, 0xA, 0, ReservationType.ExclusiveAccess)).Outcome);
        Assert.Equal(generation, pr.Generation);
    }

    [Fact]
    public void Under_an_all_registrants_reservation_a_zero_key_preempts_every_other_registrant_and_reserves_anew()
    {
        var pr = RegisteredAB();
        Assert.True(pr.Out(C, Register(0, 0xC)).Outcome.IsGood);
        Assert.True(pr.Out(B, Reserve(0xB, ReservationType.WriteExclusiveAllRegistrants)).Outcome.IsGood);
        Assert.True(pr.IsHolder(A));
        Assert.Equal(0ul, pr.ReadReservation(A).Reservation!.Key);

        var result = pr.Out(A, new ProutCommand(ProutAction.Preempt, 0xA, 0, ReservationType.ExclusiveAccess));

        Assert.Equal([B, C], result.Removed.Order());
        Assert.Equal(new Reservation(A, 0xA, ReservationType.ExclusiveAccess), pr.Reservation);
        Assert.Equal([A], pr.Registrations.Keys);
    }

    [Fact]
    public void Clear_removes_everything_and_tells_every_other_registrant_reservations_preempted()
    {
        var pr = RegisteredAB();
        Assert.True(pr.Out(B, Reserve(0xB, ReservationType.ExclusiveAccess)).Outcome.IsGood);
        var generation = pr.Generation;

        Assert.Equal(ScsiOutcome.Good, pr.Out(A, new ProutCommand(ProutAction.Clear, 0xA)).Outcome);

        Assert.Empty(pr.Registrations);
        Assert.Null(pr.Reservation);
        Assert.Equal(generation + 1, pr.Generation);
        Assert.Equal([Sense.ReservationsPreempted], pr.PendingFor(B));
        Assert.Empty(pr.PendingFor(A));
    }

    [Fact]
    public void A_registrants_only_holder_that_unregisters_releases_it_and_the_others_hear_reservations_released()
    {
        var pr = RegisteredAB();
        Assert.True(pr.Out(A, Reserve(0xA, ReservationType.ExclusiveAccessRegistrantsOnly)).Outcome.IsGood);

        Assert.True(pr.Out(A, Register(0xA, 0)).Outcome.IsGood);

        Assert.Null(pr.Reservation);
        Assert.Equal(ScsiOutcome.Check(Sense.ReservationsReleased), pr.Access(B, DataAccess.Read));
        Assert.Equal(ScsiOutcome.Good, pr.Access(B, DataAccess.Read));
    }

    [Fact]
    public void Bad_commands_are_refused_with_their_sense_and_change_nothing()
    {
        var pr = RegisteredAB();
        var state = pr.State;

        Assert.Equal(ScsiOutcome.Check(Sense.InvalidFieldInCdb), pr.Out(A, new ProutCommand(ProutAction.Reserve, 0xA)).Outcome);
        Assert.Equal(ScsiOutcome.Check(Sense.InvalidFieldInCdb), pr.Out(A, Reserve(0xA, (ReservationType)2)).Outcome);
        Assert.Equal(ScsiOutcome.Check(Sense.InvalidFieldInCdb), pr.Out(A, new ProutCommand(ProutAction.RegisterAndMove, 0xA, 0xD)).Outcome);
        Assert.Equal(ScsiOutcome.Check(Sense.InvalidFieldInCdb), pr.Out(A, new ProutCommand((ProutAction)0x1F, 0xA)).Outcome);

        Assert.Equivalent(state, pr.State, strict: true);
    }

    [Fact]
    public void Fixed_format_sense_has_the_key_at_byte_2_and_the_codes_at_12_and_13_and_garbage_is_a_format_error()
    {
        var bytes = Sense.RegistrationsPreempted.Fixed();
        Assert.Equal(18, bytes.Length);
        Assert.Equal(new byte[] { 0x70, 0x00, 0x06, 0, 0, 0, 0, 0x0A, 0, 0, 0, 0, 0x2A, 0x05, 0, 0, 0, 0 }, bytes);
        Assert.Equal("Registrations preempted", Sense.Decode(bytes).Describe());
        Assert.Equal(Sense.LogicalUnitNotSupported, Sense.Decode(Sense.LogicalUnitNotSupported.Fixed()));

        Assert.Throws<FormatException>(() => Sense.Decode(new byte[5]));
        Assert.Throws<FormatException>(() => Sense.Decode(new byte[18]));
        Gen.Byte.Array[0, 40].Sample(garbage =>
        {
            try { Sense.Decode(garbage); }
            catch (FormatException) { }
        });
    }

    // ---- Random sequences against the reference table ----

    private static readonly string[] Nexuses = [A, B, C];

    private static readonly Gen<ReservationType> Types = Gen.Int[0, 5].Select(i => Enum.GetValues<ReservationType>()[i]);

    private static readonly Gen<ulong> Keys = Gen.Int[0, 3].Select(i => new[] { 0ul, 0xAul, 0xBul, 0xCul }[i]);

    private sealed record Step(int Nexus, ProutAction? Action, ulong Key, ulong ServiceActionKey, ReservationType Type, DataAccess Access);

    private static readonly Gen<Step> Steps = Gen.Select(Gen.Int[0, 2], Gen.Int[-2, 6], Keys, Keys, Types, Gen.Bool)
        .Select(t => new Step(t.Item1, t.Item2 < 0 ? null : (ProutAction)t.Item2, t.Item3, t.Item4, t.Item5, t.Item6 ? DataAccess.Write : DataAccess.Read));

    /// <summary>SPC-4 table 58 as a table: (type, role) → (reads, writes); roles are holder, registrant, neither.</summary>
    private static readonly Dictionary<(ReservationType, int), (bool Read, bool Write)> Table = new()
    {
        [(ReservationType.WriteExclusive, 0)] = (true, true), [(ReservationType.WriteExclusive, 1)] = (true, false), [(ReservationType.WriteExclusive, 2)] = (true, false),
        [(ReservationType.ExclusiveAccess, 0)] = (true, true), [(ReservationType.ExclusiveAccess, 1)] = (false, false), [(ReservationType.ExclusiveAccess, 2)] = (false, false),
        [(ReservationType.WriteExclusiveRegistrantsOnly, 0)] = (true, true), [(ReservationType.WriteExclusiveRegistrantsOnly, 1)] = (true, true), [(ReservationType.WriteExclusiveRegistrantsOnly, 2)] = (true, false),
        [(ReservationType.ExclusiveAccessRegistrantsOnly, 0)] = (true, true), [(ReservationType.ExclusiveAccessRegistrantsOnly, 1)] = (true, true), [(ReservationType.ExclusiveAccessRegistrantsOnly, 2)] = (false, false),
        [(ReservationType.WriteExclusiveAllRegistrants, 0)] = (true, true), [(ReservationType.WriteExclusiveAllRegistrants, 1)] = (true, true), [(ReservationType.WriteExclusiveAllRegistrants, 2)] = (true, false),
        [(ReservationType.ExclusiveAccessAllRegistrants, 0)] = (true, true), [(ReservationType.ExclusiveAccessAllRegistrants, 1)] = (true, true), [(ReservationType.ExclusiveAccessAllRegistrants, 2)] = (false, false),
    };

    [Fact]
    public void Random_command_sequences_keep_the_SPC_invariants_and_every_access_follows_the_table()
    {
        Steps.Array[1, 60].Sample(steps =>
        {
            var pr = new PersistentReservations();
            foreach (var step in steps)
            {
                var nexus = Nexuses[step.Nexus];
                var before = pr.State;
                var hadAttention = before.PendingAttentions.ContainsKey(nexus);
                if (step.Action is not { } action)
                {
                    var role = pr.Reservation is null ? -1 : pr.IsHolder(nexus) ? 0 : pr.Registrations.ContainsKey(nexus) ? 1 : 2;
                    var outcome = pr.Access(nexus, step.Access);
                    if (hadAttention) Assert.Equal(ScsiStatus.CheckCondition, outcome.Status);
                    else if (role < 0) Assert.Equal(ScsiOutcome.Good, outcome);
                    else
                    {
                        var (read, write) = Table[(pr.Reservation!.Type, role)];
                        Assert.Equal(step.Access == DataAccess.Read ? read : write, outcome.IsGood);
                    }
                    continue;
                }
                var result = pr.Out(nexus, new ProutCommand(action, step.Key, step.ServiceActionKey, step.Type));
                var bumps = action is ProutAction.Register or ProutAction.RegisterAndIgnoreExistingKey or ProutAction.Clear or ProutAction.Preempt or ProutAction.PreemptAndAbort;
                // The generation moves by one on a registration change, CLEAR or PREEMPT that succeeded, and never otherwise.
                if (!result.Outcome.IsGood || !bumps) Assert.Equal(before.Generation, pr.Generation);
                else Assert.True(pr.Generation == before.Generation + 1 || (pr.Generation == before.Generation && Equivalent(before, pr.State)));
                // A command that reported a unit attention ran nothing else.
                if (hadAttention)
                {
                    Assert.Equal(ScsiStatus.CheckCondition, result.Outcome.Status);
                    Assert.Equal(before.Registrations, pr.State.Registrations);
                    Assert.Equal(before.Reservation, pr.Reservation);
                }
                // Every registration a command removed, other than the sender's own, is told.
                foreach (var removed in before.Registrations.Keys.Where(n => n != nexus && !pr.Registrations.ContainsKey(n)))
                    Assert.Contains(pr.PendingFor(removed), s => s == Sense.RegistrationsPreempted || s == Sense.ReservationsPreempted);
                Invariants(pr);
            }
            // What the unit keeps on disk reads back to the same state.
            Assert.True(Equivalent(pr.State, PersistentReservations.From(pr.State).State));
        }, iter: 500);
    }

    private static void Invariants(PersistentReservations pr)
    {
        Assert.DoesNotContain(0ul, pr.Registrations.Values);
        if (pr.Reservation is not { } reservation) return;
        // A reservation exists only with a registrant holding it, under that registrant's key.
        Assert.NotEmpty(pr.Registrations);
        if (!reservation.AllRegistrants) Assert.Equal(reservation.Key, pr.Registrations[reservation.Holder]);
    }

    private static bool Equivalent(ReservationState x, ReservationState y) =>
        x.Generation == y.Generation && x.Reservation == y.Reservation
        && x.Registrations.OrderBy(r => r.Key).SequenceEqual(y.Registrations.OrderBy(r => r.Key))
        && x.PendingAttentions.Count == y.PendingAttentions.Count
        && x.PendingAttentions.All(p => y.PendingAttentions.TryGetValue(p.Key, out var other) && p.Value.SequenceEqual(other));
}
