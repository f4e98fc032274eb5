using System.Buffers;
using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;
using Vios.Actors.Serialization;

namespace Vios.Persistence.Serialization;

/// <summary>
/// The one serializer for every <see cref="Vios.Actors.IViosMessage"/>: remoting, the journal and
/// the snapshot store. The manifest is a short stable string from <see cref="MessageCatalog"/>;
/// no CLR type name is written or read, so nothing off the wire chooses what gets instantiated.
/// </summary>
public sealed class ViosSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    public const int Id = 4711;

    private readonly MessageCatalog _catalog = MessageCatalog.All;

    public override int Identifier => Id;

    public override string Manifest(object o) => Lookup(o).Manifest;

    public override byte[] ToBinary(object obj)
    {
        var entry = Lookup(obj);
        var buffer = new ArrayBufferWriter<byte>(256);
        entry.Codec.Write(obj, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!_catalog.TryGetByManifest(manifest, out var entry))
            throw new SerializationException($"unknown manifest '{manifest}' for ViosSerializer ({Id})");
        try
        {
            return entry.Codec.Read(bytes);
        }
        catch (MessageFormatException e)
        {
            throw new SerializationException($"malformed '{manifest}' ({bytes.Length} bytes): {e.Message}", e);
        }
    }

    private MessageManifest Lookup(object o) =>
        _catalog.TryGetByType(o.GetType(), out var entry)
            ? entry
            : throw new SerializationException(
                $"{o.GetType().FullName} implements IViosMessage but is not listed in MessageCatalog.All");
}
