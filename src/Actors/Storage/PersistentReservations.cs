namespace Vios.Actors.Storage;

/// <summary>SPC-4 persistent reservation types (the TYPE field's codes; Linux's pr.h numbers them 1 to 6 instead).</summary>
public enum ReservationType : byte
{
    WriteExclusive = 0x1,
    ExclusiveAccess = 0x3,
    WriteExclusiveRegistrantsOnly = 0x5,
    ExclusiveAccessRegistrantsOnly = 0x6,
    WriteExclusiveAllRegistrants = 0x7,
    ExclusiveAccessAllRegistrants = 0x8,
}

/// <summary>PERSISTENT RESERVE OUT (5Fh) service actions.</summary>
public enum ProutAction : byte
{
    Register = 0x00,
    Reserve = 0x01,
    Release = 0x02,
    Clear = 0x03,
    Preempt = 0x04,
    PreemptAndAbort = 0x05,
    RegisterAndIgnoreExistingKey = 0x06,
    RegisterAndMove = 0x07,
}

/// <summary>A data command's kind, as the reservation rules tell them apart.</summary>
public enum DataAccess
{
    Read,
    Write,
}

/// <summary>One PERSISTENT RESERVE OUT: its service action, reservation key, service action reservation key and type.</summary>
public sealed record ProutCommand(ProutAction Action, ulong Key, ulong ServiceActionKey = 0, ReservationType? Type = null)
{
    public override string ToString() =>
        $"{Action} key {Key:x} sa-key {ServiceActionKey:x}{(Type is { } type ? $" type {type}" : "")}";
}

/// <summary>The reservation on a logical unit: who made it, under which key, and of which type.</summary>
public sealed record Reservation(string Holder, ulong Key, ReservationType Type)
{
    /// <summary>All-registrants types: every registrant holds the reservation, and its key reads as 0.</summary>
    public bool AllRegistrants => Type is ReservationType.WriteExclusiveAllRegistrants or ReservationType.ExclusiveAccessAllRegistrants;

    /// <summary>Registrants-only types: access is every registrant's; the reservation is the one holder's.</summary>
    public bool RegistrantsOnly => Type is ReservationType.WriteExclusiveRegistrantsOnly or ReservationType.ExclusiveAccessRegistrantsOnly;
}

/// <summary>What a PERSISTENT RESERVE OUT did: its outcome, and the nexuses whose registrations it removed (a PREEMPT AND ABORT aborts their commands).</summary>
public sealed record ProutResult(ScsiOutcome Outcome, IReadOnlyList<string> Removed)
{
    public static ProutResult Of(ScsiOutcome outcome) => new(outcome, []);
}

/// <summary>The whole persistent-reservation state of a logical unit, as it is kept on the unit (it survives a restart of every node, as APTPL asks).</summary>
public sealed record ReservationState(
    uint Generation,
    IReadOnlyDictionary<string, ulong> Registrations,
    Reservation? Reservation,
    IReadOnlyDictionary<string, IReadOnlyList<Sense>> PendingAttentions)
{
    public static ReservationState Empty { get; } = new(0, new Dictionary<string, ulong>(), null, new Dictionary<string, IReadOnlyList<Sense>>());
}

/// <summary>
/// S20: SCSI-3 persistent reservations on one logical unit, by the rules of T10 SPC-4 5.13, and the
/// notification the patent builds on them. Nexuses are named by their initiator's identifier (a
/// partition's WWPN, S27). Every command first reports one pending unit attention of its nexus
/// instead of running (INQUIRY and REPORT LUNS, which do not consume them, are not commands here);
/// a change that removes other registrations queues 2Ah/05h REGISTRATIONS PREEMPTED for each of
/// them (the notification indicator), a CLEAR 2Ah/03h, a released registrants-only or
/// all-registrants reservation 2Ah/04h. The peer sees the indicator on its next access, registers
/// again (REGISTER AND IGNORE EXISTING KEY), refreshes its cached copy and goes on.
/// <para>
/// Choices where SPC leaves room: a PREEMPT never removes the registration of the nexus that sends it
/// (as Linux's LIO target); REGISTER AND MOVE is refused as an invalid field (no transport IDs here);
/// a unit attention already pending for a nexus is not queued twice.
/// </para>
/// Pure: <see cref="State"/> is what the storage unit keeps on disk; <see cref="From"/> reads it back.
/// </summary>
public sealed class PersistentReservations
{
    private readonly SortedDictionary<string, ulong> _registrations = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<Sense>> _pending = new(StringComparer.Ordinal);

    public uint Generation { get; private set; }

    public Reservation? Reservation { get; private set; }

    public IReadOnlyDictionary<string, ulong> Registrations => _registrations;

    /// <summary>The unit attentions <paramref name="nexus"/> has yet to see, oldest first.</summary>
    public IReadOnlyList<Sense> PendingFor(string nexus) => _pending.TryGetValue(nexus, out var queue) ? queue : [];

    public ReservationState State => new(Generation,
        new Dictionary<string, ulong>(_registrations, StringComparer.Ordinal),
        Reservation,
        _pending.Where(p => p.Value.Count > 0).ToDictionary(p => p.Key, p => (IReadOnlyList<Sense>)p.Value.ToList(), StringComparer.Ordinal));

    public static PersistentReservations From(ReservationState state)
    {
        var reservations = new PersistentReservations { Generation = state.Generation, Reservation = state.Reservation };
        foreach (var (nexus, key) in state.Registrations) reservations._registrations[nexus] = key;
        foreach (var (nexus, senses) in state.PendingAttentions) reservations._pending[nexus] = senses.ToList();
        return reservations;
    }

    /// <summary>Whether <paramref name="nexus"/> holds the reservation (every registrant does under an all-registrants type).</summary>
    public bool IsHolder(string nexus) => Reservation is { } r && (r.AllRegistrants ? _registrations.ContainsKey(nexus) : r.Holder == nexus);

    /// <summary>A READ or WRITE from <paramref name="nexus"/>: a pending unit attention first, then the reservation's access rule.</summary>
    public ScsiOutcome Access(string nexus, DataAccess access)
    {
        if (TakeAttention(nexus) is { } attention) return ScsiOutcome.Check(attention);
        return Allows(nexus, access) ? ScsiOutcome.Good : ScsiOutcome.Conflict;
    }

    /// <summary>
    /// The reservation's access rule (SPC-4 table 58, for READ and WRITE): with none, anyone; Write
    /// Exclusive, anyone reads and the holder writes; Exclusive Access, the holder only; the
    /// registrants-only and all-registrants types put every registrant in the holder's place.
    /// </summary>
    public bool Allows(string nexus, DataAccess access)
    {
        if (Reservation is not { } reservation) return true;
        var registered = _registrations.ContainsKey(nexus);
        var holder = IsHolder(nexus);
        return reservation.Type switch
        {
            ReservationType.WriteExclusive => access == DataAccess.Read || holder,
            ReservationType.ExclusiveAccess => holder,
            ReservationType.WriteExclusiveRegistrantsOnly or ReservationType.WriteExclusiveAllRegistrants => access == DataAccess.Read || registered,
            _ => registered,
        };
    }

    /// <summary>PERSISTENT RESERVE IN, READ KEYS: a pending unit attention first; then the generation and the registered keys.</summary>
    public (ScsiOutcome Outcome, uint Generation, IReadOnlyList<ulong> Keys) ReadKeys(string nexus) =>
        TakeAttention(nexus) is { } attention ? (ScsiOutcome.Check(attention), 0, []) : (ScsiOutcome.Good, Generation, _registrations.Values.ToList());

    /// <summary>PERSISTENT RESERVE IN, READ RESERVATION: the generation and the reservation (an all-registrants one reads with key 0).</summary>
    public (ScsiOutcome Outcome, uint Generation, Reservation? Reservation) ReadReservation(string nexus) =>
        TakeAttention(nexus) is { } attention ? (ScsiOutcome.Check(attention), 0, null)
        : (ScsiOutcome.Good, Generation, Reservation is { AllRegistrants: true } r ? r with { Key = 0 } : Reservation);

    /// <summary>PERSISTENT RESERVE OUT from <paramref name="nexus"/>.</summary>
    public ProutResult Out(string nexus, ProutCommand command)
    {
        if (TakeAttention(nexus) is { } attention) return ProutResult.Of(ScsiOutcome.Check(attention));
        if (command.Action is ProutAction.Reserve or ProutAction.Preempt or ProutAction.PreemptAndAbort
            && (command.Type is not { } type || !Enum.IsDefined(type)))
            return ProutResult.Of(ScsiOutcome.Check(Sense.InvalidFieldInCdb));
        return command.Action switch
        {
            ProutAction.Register => Register(nexus, command, ignoreExisting: false),
            ProutAction.RegisterAndIgnoreExistingKey => Register(nexus, command, ignoreExisting: true),
            ProutAction.Reserve => Reserve(nexus, command),
            ProutAction.Release => Release(nexus, command),
            ProutAction.Clear => Clear(nexus, command),
            ProutAction.Preempt or ProutAction.PreemptAndAbort => Preempt(nexus, command),
            _ => ProutResult.Of(ScsiOutcome.Check(Sense.InvalidFieldInCdb)),
        };
    }

    private ProutResult Register(string nexus, ProutCommand command, bool ignoreExisting)
    {
        var registered = _registrations.TryGetValue(nexus, out var key);
        if (!ignoreExisting && (registered ? command.Key != key : command.Key != 0)) return ProutResult.Of(ScsiOutcome.Conflict);
        if (command.ServiceActionKey != 0)
        {
            _registrations[nexus] = command.ServiceActionKey;
            // The reservation is the nexus's, under whatever key it has now.
            if (Reservation is { AllRegistrants: false } held && held.Holder == nexus) Reservation = held with { Key = command.ServiceActionKey };
            Generation++;
            return ProutResult.Of(ScsiOutcome.Good);
        }
        // A key of zero unregisters; an unregistered nexus doing so changes nothing.
        if (!registered) return ProutResult.Of(ScsiOutcome.Good);
        Unregister(nexus);
        Generation++;
        return ProutResult.Of(ScsiOutcome.Good);
    }

    /// <summary>Removes a registration; a holder's reservation goes with it (an all-registrants one with its last registrant).</summary>
    private void Unregister(string nexus)
    {
        _registrations.Remove(nexus);
        if (Reservation is not { } reservation) return;
        if (reservation.AllRegistrants)
        {
            if (_registrations.Count == 0) Reservation = null;
            return;
        }
        if (reservation.Holder != nexus) return;
        Reservation = null;
        // SPC-4 5.13.11.2.3: a registrants-only reservation released so tells every other registrant.
        if (reservation.RegistrantsOnly)
            foreach (var other in _registrations.Keys) Queue(other, Sense.ReservationsReleased);
    }

    private ProutResult Reserve(string nexus, ProutCommand command)
    {
        if (!Registered(nexus, command.Key)) return ProutResult.Of(ScsiOutcome.Conflict);
        if (Reservation is { } reservation)
            return ProutResult.Of(IsHolder(nexus) && reservation.Type == command.Type ? ScsiOutcome.Good : ScsiOutcome.Conflict);
        Reservation = new Reservation(nexus, command.Key, command.Type!.Value);
        return ProutResult.Of(ScsiOutcome.Good);
    }

    private ProutResult Release(string nexus, ProutCommand command)
    {
        if (!Registered(nexus, command.Key)) return ProutResult.Of(ScsiOutcome.Conflict);
        if (Reservation is not { } reservation || !IsHolder(nexus)) return ProutResult.Of(ScsiOutcome.Good);
        if (command.Type is { } type && type != reservation.Type) return ProutResult.Of(ScsiOutcome.Check(Sense.InvalidRelease));
        Reservation = null;
        if (reservation.RegistrantsOnly || reservation.AllRegistrants)
            foreach (var other in _registrations.Keys.Where(n => n != nexus)) Queue(other, Sense.ReservationsReleased);
        return ProutResult.Of(ScsiOutcome.Good);
    }

    private ProutResult Clear(string nexus, ProutCommand command)
    {
        if (!Registered(nexus, command.Key)) return ProutResult.Of(ScsiOutcome.Conflict);
        var others = _registrations.Keys.Where(n => n != nexus).ToList();
        foreach (var other in others) Queue(other, Sense.ReservationsPreempted);
        _registrations.Clear();
        Reservation = null;
        Generation++;
        return new ProutResult(ScsiOutcome.Good, others);
    }

    /// <summary>
    /// PREEMPT and PREEMPT AND ABORT (SPC-4 5.13.11.4): removes the registrations under the service
    /// action key (each told 2Ah/05h); when that key is the holder's, the issuer takes the reservation
    /// with the command's type. Under an all-registrants reservation a key of zero removes every other
    /// registration and the issuer reserves anew.
    /// </summary>
    private ProutResult Preempt(string nexus, ProutCommand command)
    {
        if (!Registered(nexus, command.Key)) return ProutResult.Of(ScsiOutcome.Conflict);
        var type = command.Type!.Value;
        var target = command.ServiceActionKey;
        if (Reservation is { AllRegistrants: true } && target == 0)
        {
            var removed = RemoveWhere(n => n != nexus);
            Reservation = new Reservation(nexus, command.Key, type);
            Generation++;
            return new ProutResult(ScsiOutcome.Good, removed);
        }
        if (target == 0) return ProutResult.Of(ScsiOutcome.Check(Sense.InvalidFieldInParameterList));
        if (Reservation is { AllRegistrants: false } reservation && reservation.Key == target)
        {
            var removed = RemoveWhere(n => n != nexus && _registrations[n] == target);
            Reservation = new Reservation(nexus, command.Key, type);
            // Registrants that stay lose the reservation they had access under when its type changes.
            if (reservation.Type != type)
                foreach (var other in _registrations.Keys.Where(n => n != nexus)) Queue(other, Sense.ReservationsReleased);
            Generation++;
            return new ProutResult(ScsiOutcome.Good, removed);
        }
        var preempted = RemoveWhere(n => n != nexus && _registrations[n] == target);
        if (preempted.Count == 0) return ProutResult.Of(ScsiOutcome.Conflict);
        Generation++;
        return new ProutResult(ScsiOutcome.Good, preempted);
    }

    /// <summary>Removes the registrations that match, each told REGISTRATIONS PREEMPTED; a holder's reservation goes with it as on an unregister.</summary>
    private List<string> RemoveWhere(Func<string, bool> match)
    {
        var removed = _registrations.Keys.Where(match).ToList();
        foreach (var nexus in removed)
        {
            _registrations.Remove(nexus);
            Queue(nexus, Sense.RegistrationsPreempted);
        }
        if (Reservation is { } reservation && (reservation.AllRegistrants ? _registrations.Count == 0 : removed.Contains(reservation.Holder)))
            Reservation = null;
        return removed;
    }

    private bool Registered(string nexus, ulong key) => _registrations.TryGetValue(nexus, out var registered) && registered == key;

    private void Queue(string nexus, Sense sense)
    {
        if (!_pending.TryGetValue(nexus, out var queue)) _pending[nexus] = queue = [];
        if (!queue.Contains(sense)) queue.Add(sense);
    }

    /// <summary>Reports (and clears) the oldest unit attention pending for <paramref name="nexus"/>.</summary>
    private Sense? TakeAttention(string nexus)
    {
        if (!_pending.TryGetValue(nexus, out var queue) || queue.Count == 0) return null;
        var first = queue[0];
        queue.RemoveAt(0);
        return first;
    }
}
