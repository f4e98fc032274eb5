namespace Vios.Actors.Protocol;

/// <summary>
/// One VIOS packet (S1): header, sub-header and opaque payload. Equality is by value; the payload
/// is compared byte by byte. A decoded frame's payload is a slice of the packet it came from.
/// </summary>
public sealed class ViosFrame : IEquatable<ViosFrame>
{
    public ViosFrame(FrameHeader header, SubHeader subHeader, ReadOnlyMemory<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(subHeader);
        Header = header;
        SubHeader = subHeader;
        Payload = payload;
    }

    public FrameHeader Header { get; }

    public SubHeader SubHeader { get; }

    public ReadOnlyMemory<byte> Payload { get; }

    public bool Equals(ViosFrame? other) =>
        other is not null
        && (ReferenceEquals(this, other)
            || (Header.Equals(other.Header) && SubHeader.Equals(other.SubHeader) && Payload.Span.SequenceEqual(other.Payload.Span)));

    public override bool Equals(object? obj) => Equals(obj as ViosFrame);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Header);
        hash.Add(SubHeader);
        hash.AddBytes(Payload.Span);
        return hash.ToHashCode();
    }

    public override string ToString() => $"ViosFrame {{ {Header}, {SubHeader}, Payload = {Payload.Length} bytes }}";
}
