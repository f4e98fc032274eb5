namespace Vios.Actors.Storage;

/// <summary>SCSI status codes (SAM-5) that a command on a logical unit ends with.</summary>
public enum ScsiStatus : byte
{
    Good = 0x00,
    CheckCondition = 0x02,
    ReservationConflict = 0x18,
}

/// <summary>SCSI sense keys (SPC-4 table 51) used by the storage units.</summary>
public enum SenseKey : byte
{
    NoSense = 0x0,
    NotReady = 0x2,
    MediumError = 0x3,
    IllegalRequest = 0x5,
    UnitAttention = 0x6,
    DataProtect = 0x7,
    Miscompare = 0xE,
}

/// <summary>
/// Sense data: a key and its additional sense code and qualifier, as a target reports a CHECK
/// CONDITION. <see cref="Fixed"/> encodes it in the fixed format (response code 70h, 18 bytes), which
/// <c>sg_decode_sense</c> reads; <see cref="Decode"/> reads it back.
/// </summary>
public readonly record struct Sense(SenseKey Key, byte Asc, byte Ascq)
{
    public const int FixedLength = 18;

    /// <summary>LOGICAL UNIT NOT SUPPORTED: an unmapped LUN (LUN masking).</summary>
    public static Sense LogicalUnitNotSupported { get; } = new(SenseKey.IllegalRequest, 0x25, 0x00);

    /// <summary>INVALID FIELD IN PARAMETER LIST.</summary>
    public static Sense InvalidFieldInParameterList { get; } = new(SenseKey.IllegalRequest, 0x26, 0x00);

    /// <summary>INVALID RELEASE OF PERSISTENT RESERVATION: a RELEASE by the holder that names another type.</summary>
    public static Sense InvalidRelease { get; } = new(SenseKey.IllegalRequest, 0x26, 0x04);

    /// <summary>INVALID FIELD IN CDB: an unknown service action or reservation type.</summary>
    public static Sense InvalidFieldInCdb { get; } = new(SenseKey.IllegalRequest, 0x24, 0x00);

    /// <summary>LOGICAL BLOCK ADDRESS OUT OF RANGE.</summary>
    public static Sense LbaOutOfRange { get; } = new(SenseKey.IllegalRequest, 0x21, 0x00);

    /// <summary>WRITE PROTECTED.</summary>
    public static Sense WriteProtected { get; } = new(SenseKey.DataProtect, 0x27, 0x00);

    /// <summary>MISCOMPARE DURING VERIFY OPERATION: a COMPARE AND WRITE whose compare failed.</summary>
    public static Sense Miscompare { get; } = new(SenseKey.Miscompare, 0x1D, 0x00);

    /// <summary>RESERVATIONS PREEMPTED: a CLEAR, or this nexus's reservation was preempted.</summary>
    public static Sense ReservationsPreempted { get; } = new(SenseKey.UnitAttention, 0x2A, 0x03);

    /// <summary>RESERVATIONS RELEASED: a registrants-only or all-registrants reservation was released.</summary>
    public static Sense ReservationsReleased { get; } = new(SenseKey.UnitAttention, 0x2A, 0x04);

    /// <summary>REGISTRATIONS PREEMPTED: this nexus's key was removed (S20's notification indicator).</summary>
    public static Sense RegistrationsPreempted { get; } = new(SenseKey.UnitAttention, 0x2A, 0x05);

    /// <summary>The 18-byte fixed-format sense data (SPC-4 4.5.3): response code 70h (current), key at byte 2, ASC/ASCQ at 12/13.</summary>
    public byte[] Fixed()
    {
        var bytes = new byte[FixedLength];
        bytes[0] = 0x70;
        bytes[2] = (byte)Key;
        bytes[7] = FixedLength - 8;
        bytes[12] = Asc;
        bytes[13] = Ascq;
        return bytes;
    }

    /// <summary>Reads fixed-format sense data (70h or 71h); a clear error for anything else.</summary>
    public static Sense Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 14)
            throw new FormatException($"fixed-format sense data is at least 14 bytes; got {bytes.Length}");
        var code = bytes[0] & 0x7F;
        if (code is not (0x70 or 0x71))
            throw new FormatException($"sense response code {code:x2}h is not fixed format (70h or 71h)");
        return new Sense((SenseKey)(bytes[2] & 0x0F), bytes[12], bytes[13]);
    }

    public override string ToString() => $"{Key} {Asc:x2}h/{Ascq:x2}h ({Describe()})";

    /// <summary>The additional sense's name, as <c>sg_decode_sense</c> prints it.</summary>
    public string Describe() => (Asc, Ascq) switch
    {
        (0x21, 0x00) => "Logical block address out of range",
        (0x24, 0x00) => "Invalid field in cdb",
        (0x25, 0x00) => "Logical unit not supported",
        (0x26, 0x00) => "Invalid field in parameter list",
        (0x26, 0x04) => "Invalid release of persistent reservation",
        (0x27, 0x00) => "Write protected",
        (0x1D, 0x00) => "Miscompare during verify operation",
        (0x2A, 0x03) => "Reservations preempted",
        (0x2A, 0x04) => "Reservations released",
        (0x2A, 0x05) => "Registrations preempted",
        _ => $"asc {Asc:x2}h ascq {Ascq:x2}h",
    };
}

/// <summary>How a command ended: its status and, for a CHECK CONDITION, its sense.</summary>
public readonly record struct ScsiOutcome(ScsiStatus Status, Sense? Sense = null)
{
    public static ScsiOutcome Good { get; } = new(ScsiStatus.Good);
    public static ScsiOutcome Conflict { get; } = new(ScsiStatus.ReservationConflict);

    public static ScsiOutcome Check(Sense sense) => new(ScsiStatus.CheckCondition, sense);

    public bool IsGood => Status == ScsiStatus.Good;

    public override string ToString() => Status switch
    {
        ScsiStatus.Good => "GOOD",
        ScsiStatus.ReservationConflict => "RESERVATION CONFLICT",
        _ => $"CHECK CONDITION, {Sense}",
    };
}
