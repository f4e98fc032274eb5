namespace Vios.Actors.Protocol;

/// <summary>What is wrong with a packet (or with a frame the codec refuses to write).</summary>
public enum ProtocolErrorKind
{
    /// <summary>Fewer bytes than the fixed header.</summary>
    Truncated,

    /// <summary>The first four bytes are not "VIOS".</summary>
    BadMagic,

    /// <summary>A header version this codec does not read.</summary>
    UnsupportedVersion,

    /// <summary>Declared lengths disagree with the bytes that are there (packet or sub-header).</summary>
    LengthMismatch,

    /// <summary>The CRC-32 over header and sub-header does not match.</summary>
    ChecksumMismatch,

    /// <summary>A sub-header entry of a type this codec does not know, marked mandatory.</summary>
    UnknownMandatoryEntry,

    /// <summary>A known entry with a bad length or value, a duplicate, a missing one, or entries that contradict the header.</summary>
    MalformedEntry,

    /// <summary>A payload larger than the configured maximum.</summary>
    Oversize,

    /// <summary>A header field out of range: kind, unknown flag bits, reserved bytes, ids, broadcast with a destination.</summary>
    MalformedHeader,
}

/// <summary>
/// The only exception the frame codec raises for bad input: a <see cref="Kind"/> to act on and a
/// message naming the field and the values found.
/// </summary>
public sealed class ProtocolException(ProtocolErrorKind kind, string message) : Exception(message)
{
    public ProtocolErrorKind Kind { get; } = kind;
}
