using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Immutable;
using System.IO.Hashing;
using System.Text;
using Vios.Actors.Serialization;

namespace Vios.Actors.Kernel;

/// <summary>What is wrong with the bytes of a WPAR image.</summary>
public enum WparImageError
{
    /// <summary>Fewer bytes than the header, or than the header declares.</summary>
    Truncated,

    /// <summary>The first four bytes are not "KERN".</summary>
    BadMagic,

    /// <summary>A version this codec does not read.</summary>
    UnsupportedVersion,

    /// <summary>More bytes than the header declares, or reserved header bytes not zero.</summary>
    LengthMismatch,

    /// <summary>The XxHash64 over header and body does not match: the bytes are not the bytes written.</summary>
    ChecksumMismatch,

    /// <summary>The checksum matches but the body does not parse (a section, length, count or value out of place).</summary>
    Malformed,
}

/// <summary>The only exception <see cref="WparImageCodec.Decode"/> raises: a <see cref="Kind"/> and a message naming where and what.</summary>
public sealed class WparImageException(WparImageError kind, string message) : Exception(message)
{
    public WparImageError Kind { get; } = kind;
}

/// <summary>
/// The byte layout of a WPAR image (the "KERN" section of an LPAR checkpoint image). All integers
/// little-endian. Header: magic "KERN", version (uint16), reserved (uint16, zero), body length
/// (uint32), checksum (uint64: XxHash64 of header bytes [0, 12) and the body). Body: the sections
/// below, each a tag (four ASCII bytes), a length (uint32) and its content, all present, in order.
/// Strings are a uint16 length and UTF-8; byte strings a uint32 length and the bytes; lists a
/// uint32 count and the items.
/// </summary>
public static class WparImageLayout
{
    public const int CurrentVersion = 1;

    public static ReadOnlySpan<byte> Magic => "KERN"u8;

    public const int MagicOffset = 0;
    public const int VersionOffset = MagicOffset + 4;                 // 4, uint16
    public const int ReservedOffset = VersionOffset + sizeof(ushort);  // 6, uint16, zero
    public const int BodyLengthOffset = ReservedOffset + sizeof(ushort); // 8, uint32
    public const int ChecksumOffset = BodyLengthOffset + sizeof(uint); // 12, uint64
    public const int HeaderLength = ChecksumOffset + sizeof(ulong);    // 20

    public const int SectionHeaderLength = 8;

    /// <summary>Section tags, in the order they appear.</summary>
    public static readonly ImmutableArray<string> Sections = ["WPAR", "PROC", "SMSG", "SSEM", "SSHM", "PMSG", "PSEM", "PSHM", "PTYS", "STRM"];
}

/// <summary>
/// Writes and reads <see cref="WparImage"/>s. Deterministic: one image, one byte sequence, so
/// <c>Encode(Decode(bytes)) == bytes</c>. Reading follows the VIOS frame codec: every length is checked
/// against the bytes that are there before it is used, and bad input is a <see cref="WparImageException"/>.
/// </summary>
public static class WparImageCodec
{
    public static byte[] Encode(WparImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var writer = new SpanWriter(4096);
        try
        {
            writer.Skip(WparImageLayout.HeaderLength);
            var sections = WparImageLayout.Sections;

            var at = writer.BeginSection(sections[0]);
            writer.String16(image.Name);
            writer.Int64(image.Clock);
            var counters = image.Counters;
            writer.Int64(counters.Pid);
            writer.Int64(counters.MessageQueue);
            writer.Int64(counters.SemaphoreSet);
            writer.Int64(counters.SharedMemory);
            writer.Int64(counters.PosixHandle);
            writer.Int64(counters.Stream);
            writer.EndSection(at);

            at = writer.BeginSection(sections[1]);
            writer.List(image.Processes, static (w, p) =>
            {
                w.Int32(p.Pid);
                w.Int32(p.Uid);
                w.Int32(p.Gid);
                w.String16(p.Command);
                w.Bool(p.Exited);
                w.Int64(p.NextAttachAddress);
                w.List(p.Descriptors, static (w, d) =>
                {
                    w.Int32(d.Fd);
                    w.Byte((byte)d.Kind);
                    w.Int64(d.Target);
                    w.Byte((byte)d.Access);
                });
                w.List(p.Attachments, static (w, a) =>
                {
                    w.Int64(a.Address);
                    w.Int32(a.SegmentId);
                    w.Bool(a.ReadOnly);
                });
                w.List(p.SemaphoreUndo, static (w, u) =>
                {
                    w.Int32(u.SetId);
                    w.Int32(u.Number);
                    w.Int32(u.Adjustment);
                });
                w.List(p.OpenSemaphores, static (w, o) =>
                {
                    w.Int64(o.Handle);
                    w.Int32(o.Opens);
                });
            });
            writer.EndSection(at);

            at = writer.BeginSection(sections[2]);
            writer.List(image.MessageQueues, static (w, q) =>
            {
                w.Int32(q.Id);
                w.Permissions(q.Permissions);
                w.Int32(q.MaxBytes);
                w.List(q.Messages, static (w, m) =>
                {
                    w.Int64(m.Type);
                    w.ByteString(m.Data);
                });
                w.Int32(q.LastSendPid);
                w.Int32(q.LastReceivePid);
                w.Int64(q.SendTime);
                w.Int64(q.ReceiveTime);
                w.Int64(q.ChangeTime);
            });
            writer.EndSection(at);

            at = writer.BeginSection(sections[3]);
            writer.List(image.SemaphoreSets, static (w, s) =>
            {
                w.Int32(s.Id);
                w.Permissions(s.Permissions);
                if (s.Values.Length != s.LastPids.Length) throw new ArgumentException($"semaphore set {s.Id} has {s.Values.Length} values and {s.LastPids.Length} last pids");
                w.Int32(s.Values.Length);
                for (var i = 0; i < s.Values.Length; i++)
                {
                    w.Int32(s.Values[i]);
                    w.Int32(s.LastPids[i]);
                }
                w.Int64(s.OperationTime);
                w.Int64(s.ChangeTime);
            });
            writer.EndSection(at);

            at = writer.BeginSection(sections[4]);
            writer.List(image.SharedMemorySegments, static (w, s) =>
            {
                w.Int32(s.Id);
                w.Permissions(s.Permissions);
                w.ByteString(s.Bytes);
                w.Int32(s.CreatorPid);
                w.Int32(s.LastPid);
                w.Int32(s.Attachments);
                w.Int64(s.AttachTime);
                w.Int64(s.DetachTime);
                w.Int64(s.ChangeTime);
                w.Bool(s.Removed);
            });
            writer.EndSection(at);

            at = writer.BeginSection(sections[5]);
            writer.List(image.PosixQueues, static (w, q) =>
            {
                w.Int64(q.Handle);
                w.String16(q.Name);
                w.Bool(q.Unlinked);
                w.Int32(q.Mode);
                w.Int32(q.Uid);
                w.Int32(q.Gid);
                w.Int32(q.MaxMessages);
                w.Int32(q.MaxMessageSize);
                w.List(q.Messages, static (w, m) =>
                {
                    w.Int32(m.Priority);
                    w.ByteString(m.Data);
                });
            });
            writer.EndSection(at);

            at = writer.BeginSection(sections[6]);
            writer.List(image.PosixSemaphores, static (w, s) =>
            {
                w.Int64(s.Handle);
                w.String16(s.Name);
                w.Bool(s.Unlinked);
                w.Int32(s.Mode);
                w.Int32(s.Uid);
                w.Int32(s.Gid);
                w.Int32(s.Value);
            });
            writer.EndSection(at);

            at = writer.BeginSection(sections[7]);
            writer.List(image.PosixSharedMemory, static (w, s) =>
            {
                w.String16(s.Name);
                w.Bool(s.Unlinked);
                w.Int32(s.Mode);
                w.Int32(s.Uid);
                w.Int32(s.Gid);
                w.ByteString(s.Bytes);
            });
            writer.EndSection(at);

            at = writer.BeginSection(sections[8]);
            writer.List(image.Ptys, static (w, p) =>
            {
                w.Int32(p.Number);
                var s = p.Settings;
                w.UInt32((uint)s.Input);
                w.UInt32((uint)s.Output);
                w.UInt32((uint)s.Local);
                w.Int32(s.Speed);
                w.UInt16(s.Window.Rows);
                w.UInt16(s.Window.Columns);
                w.Byte(s.Characters.Interrupt);
                w.Byte(s.Characters.Quit);
                w.Byte(s.Characters.Erase);
                w.Byte(s.Characters.Kill);
                w.Byte(s.Characters.EndOfFile);
                w.ByteString(p.ToSlave);
                w.ByteString(p.ToMaster);
            });
            writer.EndSection(at);

            at = writer.BeginSection(sections[9]);
            writer.List(image.Streams, static (w, s) =>
            {
                w.Int64(s.Id);
                w.Bool(s.Frozen);
                w.List(s.Modules, static (w, m) =>
                {
                    w.Int32(m.Position);
                    w.String16(m.Identity);
                    w.ByteString(m.State);
                });
                w.List(s.Queued, static (w, q) =>
                {
                    w.Int32(q.Position);
                    w.Byte((byte)q.Type);
                    w.ByteString(q.Payload);
                });
                w.ByteString(s.Readable);
            });
            writer.EndSection(at);

            var bytes = writer.ToArray().AsSpan();
            var bodyLength = bytes.Length - WparImageLayout.HeaderLength;
            WparImageLayout.Magic.CopyTo(bytes);
            BinaryPrimitives.WriteUInt16LittleEndian(bytes[WparImageLayout.VersionOffset..], WparImageLayout.CurrentVersion);
            BinaryPrimitives.WriteUInt16LittleEndian(bytes[WparImageLayout.ReservedOffset..], 0);
            BinaryPrimitives.WriteUInt32LittleEndian(bytes[WparImageLayout.BodyLengthOffset..], (uint)bodyLength);
            BinaryPrimitives.WriteUInt64LittleEndian(bytes[WparImageLayout.ChecksumOffset..], Checksum(bytes));
            return bytes.ToArray();
        }
        finally
        {
            writer.Dispose();
        }
    }

    /// <summary>Reads an image written by <see cref="Encode"/>.</summary>
    /// <exception cref="WparImageException">The bytes are not a whole, undamaged image; <see cref="WparImageException.Kind"/> says why.</exception>
    public static WparImage Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < WparImageLayout.HeaderLength)
            throw new WparImageException(WparImageError.Truncated, $"Truncated: {bytes.Length} bytes, fewer than the {WparImageLayout.HeaderLength}-byte WPAR image header");
        if (!bytes[..4].SequenceEqual(WparImageLayout.Magic))
            throw new WparImageException(WparImageError.BadMagic, $"BadMagic: the image starts with {Convert.ToHexString(bytes[..4])}, not \"KERN\"");
        var version = BinaryPrimitives.ReadUInt16LittleEndian(bytes[WparImageLayout.VersionOffset..]);
        if (version != WparImageLayout.CurrentVersion)
            throw new WparImageException(WparImageError.UnsupportedVersion, $"UnsupportedVersion: image version {version}; this codec reads version {WparImageLayout.CurrentVersion}");
        if (BinaryPrimitives.ReadUInt16LittleEndian(bytes[WparImageLayout.ReservedOffset..]) != 0)
            throw new WparImageException(WparImageError.LengthMismatch, $"LengthMismatch: reserved header bytes {WparImageLayout.ReservedOffset}..{WparImageLayout.ReservedOffset + 1} must be zero");
        var declared = (long)BinaryPrimitives.ReadUInt32LittleEndian(bytes[WparImageLayout.BodyLengthOffset..]);
        var actual = bytes.Length - WparImageLayout.HeaderLength;
        if (actual < declared)
            throw new WparImageException(WparImageError.Truncated, $"Truncated: the header declares a {declared}-byte body, {actual} bytes follow it");
        if (actual > declared)
            throw new WparImageException(WparImageError.LengthMismatch, $"LengthMismatch: the header declares a {declared}-byte body, {actual} bytes follow it");
        var stored = BinaryPrimitives.ReadUInt64LittleEndian(bytes[WparImageLayout.ChecksumOffset..]);
        var computed = Checksum(bytes);
        if (stored != computed)
            throw new WparImageException(WparImageError.ChecksumMismatch, $"ChecksumMismatch: the header carries XxHash64 0x{stored:X16}, header and body hash to 0x{computed:X16}");

        var reader = new SpanReader(bytes, "a WPAR image", reason => new WparImageException(WparImageError.Malformed, $"Malformed: {reason}")) { Where = "section header" };
        reader.Seek(WparImageLayout.HeaderLength);
        var sections = WparImageLayout.Sections;

        var end = reader.BeginSection(sections[0]);
        var name = reader.String16();
        var clock = reader.Int64();
        var counters = new VirtualIdCounters(reader.Int64(), reader.Int64(), reader.Int64(), reader.Int64(), reader.Int64(), reader.Int64());
        reader.EndSection(end);

        end = reader.BeginSection(sections[1]);
        var processes = reader.List(30, static (ref SpanReader r) => new ProcessImage(
            r.Int32(), r.Int32(), r.Int32(), r.String16(), r.Bool(), r.Int64(),
            r.List(14, static (ref SpanReader r) => new DescriptorImage(r.Int32(), r.Enum<DescriptorKind>(), r.Int64(), r.Enum<PosixAccess>())),
            r.List(13, static (ref SpanReader r) => new AttachmentImage(r.Int64(), r.Int32(), r.Bool())),
            r.List(12, static (ref SpanReader r) => new SemaphoreUndoImage(r.Int32(), r.Int32(), r.Int32())),
            r.List(12, static (ref SpanReader r) => new OpenSemaphoreImage(r.Int64(), r.Int32()))));
        reader.EndSection(end);

        end = reader.BeginSection(sections[2]);
        var messageQueues = reader.List(56, static (ref SpanReader r) => new MessageQueueImage(
            r.Int32(), r.Permissions(), r.Int32(),
            r.List(12, static (ref SpanReader r) => new SysVMessage(r.Int64(), r.ByteString())),
            r.Int32(), r.Int32(), r.Int64(), r.Int64(), r.Int64()));
        reader.EndSection(end);

        end = reader.BeginSection(sections[3]);
        var semaphoreSets = reader.List(48, static (ref SpanReader r) =>
        {
            var id = r.Int32();
            var permissions = r.Permissions();
            var count = r.Count(8);
            var values = ImmutableArray.CreateBuilder<int>(count);
            var lastPids = ImmutableArray.CreateBuilder<int>(count);
            for (var i = 0; i < count; i++)
            {
                values.Add(r.Int32());
                lastPids.Add(r.Int32());
            }
            return new SemaphoreSetImage(id, permissions, values.MoveToImmutable(), lastPids.MoveToImmutable(), r.Int64(), r.Int64());
        });
        reader.EndSection(end);

        end = reader.BeginSection(sections[4]);
        var segments = reader.List(69, static (ref SpanReader r) => new SharedMemorySegmentImage(
            r.Int32(), r.Permissions(), r.ByteString(), r.Int32(), r.Int32(), r.Int32(), r.Int64(), r.Int64(), r.Int64(), r.Bool()));
        reader.EndSection(end);

        end = reader.BeginSection(sections[5]);
        var posixQueues = reader.List(35, static (ref SpanReader r) => new PosixQueueImage(
            r.Int64(), r.String16(), r.Bool(), r.Int32(), r.Int32(), r.Int32(), r.Int32(), r.Int32(),
            r.List(8, static (ref SpanReader r) => new PosixMessage(r.Int32(), r.ByteString()))));
        reader.EndSection(end);

        end = reader.BeginSection(sections[6]);
        var posixSemaphores = reader.List(27, static (ref SpanReader r) => new PosixSemaphoreImage(
            r.Int64(), r.String16(), r.Bool(), r.Int32(), r.Int32(), r.Int32(), r.Int32()));
        reader.EndSection(end);

        end = reader.BeginSection(sections[7]);
        var posixSharedMemory = reader.List(19, static (ref SpanReader r) => new PosixSharedMemoryImage(
            r.String16(), r.Bool(), r.Int32(), r.Int32(), r.Int32(), r.ByteString()));
        reader.EndSection(end);

        end = reader.BeginSection(sections[8]);
        var ptys = reader.List(33, static (ref SpanReader r) => new PtyImage(
            r.Int32(),
            new TerminalSettings(
                (TerminalInputFlags)r.UInt32(), (TerminalOutputFlags)r.UInt32(), (TerminalLocalFlags)r.UInt32(), r.Int32(),
                new WindowSize(r.UInt16(), r.UInt16()),
                new ControlCharacters(r.Byte(), r.Byte(), r.Byte(), r.Byte(), r.Byte())),
            r.ByteString(), r.ByteString()));
        reader.EndSection(end);

        end = reader.BeginSection(sections[9]);
        var streams = reader.List(21, static (ref SpanReader r) => new StreamImage(
            r.Int64(), r.Bool(),
            r.List(10, static (ref SpanReader r) => new StreamModuleImage(r.Int32(), r.String16(), r.ByteString())),
            r.List(9, static (ref SpanReader r) => new QueuedBlockImage(r.Int32(), r.Enum<MessageType>(), r.ByteString())),
            r.ByteString()));
        reader.EndSection(end);

        reader.EndBody();
        return new WparImage(name, clock, counters, processes, messageQueues, semaphoreSets, segments, posixQueues, posixSemaphores, posixSharedMemory, ptys, streams);
    }

    /// <summary>Like <see cref="Decode"/>, reporting bad input through <paramref name="error"/>.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> bytes, out WparImage? image, out WparImageException? error)
    {
        try
        {
            image = Decode(bytes);
            error = null;
            return true;
        }
        catch (WparImageException e)
        {
            (image, error) = (null, e);
            return false;
        }
    }

    private static ulong Checksum(ReadOnlySpan<byte> image)
    {
        var hash = new XxHash64();
        hash.Append(image[..WparImageLayout.ChecksumOffset]);
        hash.Append(image[WparImageLayout.HeaderLength..]);
        return hash.GetCurrentHashAsUInt64();
    }
}

/// <summary>The WPAR image's own fields over the shared writer and reader: sections, strings, byte strings, permissions and lists (<see cref="WparImageLayout"/>).</summary>
internal static class WparImageFields
{
    /// <summary>Reads one item of a list.</summary>
    public delegate T ReadItem<T>(ref SpanReader reader);

    public static int BeginSection(this SpanWriter writer, string tag)
    {
        writer.Ascii(tag);
        return writer.BeginLength();
    }

    public static void EndSection(this SpanWriter writer, int lengthAt) => writer.EndLength(lengthAt);

    public static void ByteString(this SpanWriter writer, ByteString value)
    {
        writer.UInt32((uint)value.Length);
        writer.Bytes(value.Span);
    }

    public static void Permissions(this SpanWriter writer, IpcPermissions p)
    {
        writer.Int32(p.Key);
        writer.Int32(p.Uid);
        writer.Int32(p.Gid);
        writer.Int32(p.CreatorUid);
        writer.Int32(p.CreatorGid);
        writer.Int32(p.Mode);
    }

    public static void List<T>(this SpanWriter writer, ImmutableArray<T> items, Action<SpanWriter, T> write)
    {
        var list = items.IsDefault ? [] : items;
        writer.UInt32((uint)list.Length);
        foreach (var item in list) write(writer, item);
    }

    /// <summary>A section's tag and length; reads stop at its end until the next section. Returns the end.</summary>
    public static int BeginSection(this ref SpanReader reader, string tag)
    {
        reader.Unlimit();
        reader.Where = $"section {tag}";
        var found = reader.Ascii(4);
        if (found != tag) throw reader.Malformed($"section {found} where {tag} belongs");
        var length = reader.UInt32();
        if (length > (uint)reader.Remaining) throw reader.Malformed($"the section declares {length} bytes, {reader.Remaining} remain");
        var end = reader.Position + (int)length;
        reader.Limit(end);
        return end;
    }

    public static void EndSection(this ref SpanReader reader, int end)
    {
        if (reader.Position != end) throw reader.Malformed($"{end - reader.Position} bytes left over at the end of the section");
    }

    public static void EndBody(this ref SpanReader reader)
    {
        reader.Unlimit();
        reader.ExpectEnd("after the last section");
    }

    public static ByteString ByteString(this ref SpanReader reader)
    {
        var length = reader.UInt32();
        if (length > (uint)reader.Remaining) throw reader.Malformed($"a byte string declares {length} bytes, {reader.Remaining} remain");
        return Kernel.ByteString.Of(reader.Bytes((int)length));
    }

    public static IpcPermissions Permissions(this ref SpanReader reader) =>
        new(reader.Int32(), reader.Int32(), reader.Int32(), reader.Int32(), reader.Int32(), reader.Int32());

    public static ImmutableArray<T> List<T>(this ref SpanReader reader, int minItemBytes, ReadItem<T> read)
    {
        var count = reader.Count(minItemBytes);
        var items = ImmutableArray.CreateBuilder<T>(count);
        for (var i = 0; i < count; i++) items.Add(read(ref reader));
        return items.MoveToImmutable();
    }
}
