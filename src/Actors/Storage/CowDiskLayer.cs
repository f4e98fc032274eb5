using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Vios.Actors.Storage;

/// <summary>
/// A copy-on-write layer (S24): a file that holds the blocks written since it was put over its
/// <see cref="Parent"/>, which it never writes; every other block is read from the parent.
/// </summary>
/// <remarks>
/// <para>
/// S24 checkpoint, disk side: while the guest still runs on the parent, <see cref="CreateOver"/>
/// makes the layer (a header, no copying, so it costs the same for any disk size); the VM is
/// stopped; <see cref="LparDisk.SwitchTo"/> points the LPAR at the layer; the VM runs again. From
/// then on the parent file is exactly the disk as it was at the checkpoint and is what the
/// checkpoint retains, or a copy of it is, and then the layer may later be committed back into
/// the parent with <see cref="CommitInto"/>.
/// </para>
/// <para>
/// File layout (little-endian). Block 0 of the file is the header: magic <c>VIOSCOW1</c>, version,
/// block size, block count, the parent's path (so the layer points to its parent as S24 says) and a
/// CRC-32; its last two 512-byte sectors are two flush marks. From byte <see cref="HeaderSize"/>
/// on come records of <see cref="RecordSize"/> bytes: a marker, a CRC-32 of the rest, the block
/// number, and the block's bytes. The map from block to record is held in memory and rebuilt on
/// <see cref="Open"/> by reading the records in order, a later record of a block replacing an
/// earlier one; so the file is its own journal and there is no separate index to keep in step.
/// </para>
/// <para>
/// Durability follows a disk with a write cache: a write is acknowledged as durable once a
/// <see cref="Flush"/> after it returns. Flush syncs the records, then writes a flush mark holding
/// how many records are durable, then syncs again; the two mark slots are written in turn, with a
/// sequence number, so a mark torn by a crash leaves the previous one. On <see cref="Open"/>:
/// a damaged record that a flush mark vouches for is corruption and refuses the file
/// (<see cref="InvalidDataException"/>); records after the mark were never acknowledged, so the
/// first damaged one of them, typically a record torn at the end of the file by a crash, ends the
/// layer, and it and everything after it are cut off the file (otherwise an old record behind the
/// torn one could come back to life once new records were appended over the tear).
/// </para>
/// <para>
/// A block written again after a flush gets a new record at the end of the file, never an overwrite
/// of a durable record, which a crash could tear; a block written again before the next flush
/// overwrites its own unacknowledged record in place. So the file grows by at most one record per
/// block per flush, not per write.
/// </para>
/// <para>
/// Records are 16 bytes longer than a block, so their data is not block-aligned in the file; the
/// layer reads and writes through the host's page cache, where that costs nothing measurable, and it
/// keeps each record, with its checksum, one write.
/// </para>
/// </remarks>
public sealed class CowDiskLayer : IBlockDevice, IDisposable
{
    public const int HeaderSize = VirtualDisk.BlockSize;

    // Header fields.
    public const int MagicOffset = 0;
    public const int MagicSize = 8;
    public const int VersionOffset = MagicOffset + MagicSize;                 // 8, uint16
    public const int ParentPathLengthOffset = VersionOffset + sizeof(ushort); // 10, uint16
    public const int BlockSizeOffset = ParentPathLengthOffset + sizeof(ushort); // 12, uint32
    public const int BlockCountOffset = BlockSizeOffset + sizeof(uint);       // 16, int64
    public const int ParentPathOffset = 64;                                    // UTF-8; bytes 24..63 are zero

    // The header checksum is the CRC-32 of bytes [0, HeaderChecksumOffset): every fixed field, the
    // parent path and the zero padding, so any damaged byte of the fixed header is seen.
    public const int HeaderChecksumOffset = FlushMarkOffset - sizeof(uint);    // 3068
    public const int MaxParentPathBytes = HeaderChecksumOffset - ParentPathOffset;

    // Flush marks: two slots, each alone in a 512-byte sector so a torn write of one cannot touch
    // the other or the fixed header. Sequence (uint64), durable records (int64), CRC-32 of the two.
    public const int FlushMarkOffset = HeaderSize - (2 * FlushMarkSlotSize);  // 3072
    public const int FlushMarkSlotSize = 512;
    public const int FlushMarkSequenceOffset = 0;
    public const int FlushMarkDurableOffset = FlushMarkSequenceOffset + sizeof(ulong);     // 8
    public const int FlushMarkChecksumOffset = FlushMarkDurableOffset + sizeof(long);      // 16
    public const int FlushMarkSize = FlushMarkChecksumOffset + sizeof(uint);               // 20

    // Records, from byte HeaderSize. The checksum covers block number and data, [8, RecordSize).
    public const int RecordMarkerOffset = 0;
    public const int RecordChecksumOffset = RecordMarkerOffset + sizeof(uint); // 4
    public const int RecordBlockOffset = RecordChecksumOffset + sizeof(uint);  // 8
    public const int RecordDataOffset = RecordBlockOffset + sizeof(long);     // 16
    public const int RecordSize = RecordDataOffset + VirtualDisk.BlockSize;   // 4112

    public const ushort CurrentVersion = 1;

    /// <summary>"BLK1" in ASCII, read as a little-endian uint32: the start of every record.</summary>
    public const uint RecordMarker = 0x31_4B_4C_42;

    /// <summary>Records read per system call while <see cref="Open"/> rebuilds the map: 64 is 257 KiB.</summary>
    private const int RecordsPerScan = 64;

    /// <summary>"VIOSCOW1" in ASCII, the first eight bytes of every layer file.</summary>
    private static ReadOnlySpan<byte> Magic => "VIOSCOW1"u8;

    private readonly SafeFileHandle _handle;

    // Block → index of the record that holds its newest bytes.
    private readonly Dictionary<long, long> _records;

    // Held by writes, flushes, commits and the map lookup of reads. The one record buffer is used
    // only under it, so a write allocates nothing.
    private readonly Lock _gate = new();
    private readonly byte[] _record = new byte[RecordSize];

    private long _recordCount;
    private long _durableRecords;
    private ulong _flushSequence;

    private CowDiskLayer(
        SafeFileHandle handle, string path, IBlockDevice parent, string parentPath,
        Dictionary<long, long> records, long recordCount, long durableRecords, ulong flushSequence)
    {
        _handle = handle;
        Path = path;
        Parent = parent;
        ParentPath = parentPath;
        _records = records;
        _recordCount = recordCount;
        _durableRecords = durableRecords;
        _flushSequence = flushSequence;
    }

    /// <summary>The device below: a <see cref="VirtualDisk"/> or another layer. The layer never writes it except in <see cref="CommitInto"/>.</summary>
    public IBlockDevice Parent { get; }

    public long BlockCount => Parent.BlockCount;

    public string Path { get; }

    /// <summary>The parent's path as recorded in the header when the layer was created (the parent may since have moved with its checkpoint).</summary>
    public string ParentPath { get; }

    /// <summary>How many distinct blocks the layer holds.</summary>
    public int WrittenBlocks
    {
        get
        {
            lock (_gate)
            {
                return _records.Count;
            }
        }
    }

    /// <summary>
    /// Creates an empty layer over <paramref name="parent"/>, which may go on being written (the
    /// guest still runs on it): until blocks are written to the layer, it shows the parent as it is.
    /// Only the header is written, and synced, so a crash after this leaves an openable layer.
    /// </summary>
    /// <exception cref="IOException">The file exists or cannot be written.</exception>
    /// <exception cref="ArgumentException">The parent's path is longer than <see cref="MaxParentPathBytes"/> in UTF-8.</exception>
    public static CowDiskLayer CreateOver(IBlockDevice parent, string path)
    {
        ArgumentNullException.ThrowIfNull(parent);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var fullPath = System.IO.Path.GetFullPath(path);
        var parentPath = parent.Path;
        var pathBytes = Encoding.UTF8.GetByteCount(parentPath);
        if (pathBytes > MaxParentPathBytes)
        {
            throw new ArgumentException(
                $"the parent's path is {pathBytes} bytes in UTF-8; a layer header holds at most {MaxParentPathBytes}: {parentPath}",
                nameof(parent));
        }

        var header = new byte[HeaderSize];
        Magic.CopyTo(header.AsSpan(MagicOffset));
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(VersionOffset), CurrentVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(ParentPathLengthOffset), (ushort)pathBytes);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(BlockSizeOffset), VirtualDisk.BlockSize);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(BlockCountOffset), parent.BlockCount);
        Encoding.UTF8.GetBytes(parentPath, header.AsSpan(ParentPathOffset));
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(HeaderChecksumOffset), Crc32.HashToUInt32(header.AsSpan(0, HeaderChecksumOffset)));
        // Slot 0 holds sequence 0, no durable records; slot 1 stays zero, which fails its checksum.
        WriteFlushMark(header.AsSpan(FlushMarkOffset, FlushMarkSize), sequence: 0, durableRecords: 0);

        var handle = File.OpenHandle(fullPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            RandomAccess.Write(handle, header, 0);
            RandomAccess.FlushToDisk(handle);
        }
        catch
        {
            handle.Dispose();
            File.Delete(fullPath);
            throw;
        }

        return new CowDiskLayer(handle, fullPath, parent, parentPath, [], recordCount: 0, durableRecords: 0, flushSequence: 0);
    }

    /// <summary>
    /// Reopens a layer over <paramref name="parent"/> and rebuilds its map from the records. A torn
    /// tail after the last flush is cut off the file (see the remarks on the class).
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not a layer, or a part of it that was made durable is damaged; the message names the file and what is wrong.</exception>
    /// <exception cref="ArgumentException">The layer was made over a device of another size.</exception>
    public static CowDiskLayer Open(IBlockDevice parent, string path)
    {
        ArgumentNullException.ThrowIfNull(parent);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var fullPath = System.IO.Path.GetFullPath(path);
        var handle = File.OpenHandle(fullPath, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            return Load(handle, fullPath, parent);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The parent path recorded in a layer file's header, to find the device to open it over when
    /// restoring from a checkpoint. Reads only the header.
    /// </summary>
    /// <exception cref="InvalidDataException">The file has no valid layer header.</exception>
    public static string ReadParentPath(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var fullPath = System.IO.Path.GetFullPath(path);
        using var handle = File.OpenHandle(fullPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var header = ReadHeader(handle, fullPath);
        return ParseHeader(header, fullPath, out _);
    }

    public void Read(long block, Span<byte> destination)
    {
        BlockIo.Check(block, BlockCount, Path, destination.Length, nameof(destination));
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        long index;
        bool here;
        lock (_gate)
        {
            here = _records.TryGetValue(block, out index);
        }

        // The read itself runs outside the gate: a durable record is never overwritten, so only a
        // read racing a write of the same block can see a mix, as on any disk.
        if (here)
        {
            BlockIo.ReadExactly(_handle, destination, RecordOffset(index) + RecordDataOffset, Path, block);
        }
        else
        {
            Parent.Read(block, destination);
        }
    }

    public void Write(long block, ReadOnlySpan<byte> source)
    {
        BlockIo.Check(block, BlockCount, Path, source.Length, nameof(source));
        lock (_gate)
        {
            var record = _record.AsSpan();
            BinaryPrimitives.WriteUInt32LittleEndian(record[RecordMarkerOffset..], RecordMarker);
            BinaryPrimitives.WriteInt64LittleEndian(record[RecordBlockOffset..], block);
            source.CopyTo(record[RecordDataOffset..]);
            BinaryPrimitives.WriteUInt32LittleEndian(record[RecordChecksumOffset..], Crc32.HashToUInt32(record[RecordBlockOffset..]));

            // Overwrite only a record no flush has vouched for; a durable one stays as it is.
            if (!_records.TryGetValue(block, out var index) || index < _durableRecords)
            {
                index = _recordCount;
            }

            RandomAccess.Write(_handle, record, RecordOffset(index));
            if (index == _recordCount)
            {
                // Only after the write: a failed append leaves the map as it was, and the next append goes over it.
                _records[block] = index;
                _recordCount++;
            }
        }
    }

    /// <summary>
    /// Makes the layer's writes durable: records first, then the flush mark that vouches for them.
    /// The parent is not flushed: under a layer it is not written any more (it was flushed when the
    /// LPAR switched to the layer, <see cref="LparDisk.SwitchTo"/>).
    /// </summary>
    public void Flush()
    {
        lock (_gate)
        {
            // Every write since the last flush appended a record or rewrote one past the mark, so
            // with no record past the mark there is nothing to flush.
            if (_recordCount == _durableRecords)
            {
                return;
            }

            RandomAccess.FlushToDisk(_handle);
            var sequence = _flushSequence + 1;
            Span<byte> mark = stackalloc byte[FlushMarkSize];
            WriteFlushMark(mark, sequence, _recordCount);
            RandomAccess.Write(_handle, mark, FlushMarkOffset + ((long)(sequence % 2) * FlushMarkSlotSize));
            RandomAccess.FlushToDisk(_handle);
            _flushSequence = sequence;
            _durableRecords = _recordCount;
        }
    }

    /// <summary>
    /// Writes every block the layer holds into <paramref name="target"/> and flushes it, so that
    /// the target then reads as this layer does and the layer can be deleted (S24: "the COW disk
    /// file may be committed to the original parent disk file"). Writes to the layer wait until the
    /// commit is done. Returns the number of blocks written.
    /// </summary>
    /// <param name="target">The parent, or an exact copy of it; anything else ends up a mix of both.</param>
    public int CommitInto(IBlockDevice target)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (ReferenceEquals(target, this))
        {
            throw new ArgumentException($"a layer cannot be committed into itself: {Path}", nameof(target));
        }

        if (target.BlockCount != BlockCount)
        {
            throw new ArgumentException(
                $"{target.Path} has {target.BlockCount} blocks; the layer {Path} has {BlockCount}", nameof(target));
        }

        var buffer = ArrayPool<byte>.Shared.Rent(VirtualDisk.BlockSize);
        try
        {
            lock (_gate)
            {
                // In block order, so a file-backed target is written front to back.
                var blocks = _records.ToArray();
                Array.Sort(blocks, static (a, b) => a.Key.CompareTo(b.Key));
                var data = buffer.AsSpan(0, VirtualDisk.BlockSize);
                foreach (var (block, index) in blocks)
                {
                    BlockIo.ReadExactly(_handle, data, RecordOffset(index) + RecordDataOffset, Path, block);
                    target.Write(block, data);
                }

                target.Flush();
                return blocks.Length;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Closes the layer file; the parent stays open. Writes not yet flushed are with the operating system, not necessarily on disk.</summary>
    public void Dispose() => _handle.Dispose();

    private static long RecordOffset(long index) => HeaderSize + (index * RecordSize);

    private static void WriteFlushMark(Span<byte> mark, ulong sequence, long durableRecords)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(mark[FlushMarkSequenceOffset..], sequence);
        BinaryPrimitives.WriteInt64LittleEndian(mark[FlushMarkDurableOffset..], durableRecords);
        BinaryPrimitives.WriteUInt32LittleEndian(mark[FlushMarkChecksumOffset..], Crc32.HashToUInt32(mark[..FlushMarkChecksumOffset]));
    }

    private static byte[] ReadHeader(SafeFileHandle handle, string path)
    {
        var length = RandomAccess.GetLength(handle);
        if (length < HeaderSize)
        {
            throw new InvalidDataException(
                $"{path} is {length} bytes, shorter than the {HeaderSize}-byte header of a copy-on-write layer");
        }

        var header = new byte[HeaderSize];
        BlockIo.ReadExactly(handle, header, 0, path, block: -1);
        return header;
    }

    // Checks run from the most telling to the general: magic (is this a layer at all?), version,
    // checksum (is the header intact?), then what the fields say.
    private static string ParseHeader(ReadOnlySpan<byte> header, string path, out long blockCount)
    {
        if (!header[..MagicSize].SequenceEqual(Magic))
        {
            throw new InvalidDataException(
                $"{path} is not a copy-on-write layer: it does not start with \"VIOSCOW1\" but with 0x{Convert.ToHexString(header[..MagicSize])}");
        }

        var version = BinaryPrimitives.ReadUInt16LittleEndian(header[VersionOffset..]);
        if (version != CurrentVersion)
        {
            throw new InvalidDataException($"{path} is a copy-on-write layer of version {version}; this build reads version {CurrentVersion}");
        }

        var stored = BinaryPrimitives.ReadUInt32LittleEndian(header[HeaderChecksumOffset..]);
        var computed = Crc32.HashToUInt32(header[..HeaderChecksumOffset]);
        if (stored != computed)
        {
            throw new InvalidDataException(
                $"{path}: the copy-on-write layer header is damaged (checksum 0x{stored:X8}, computed 0x{computed:X8})");
        }

        var blockSize = BinaryPrimitives.ReadUInt32LittleEndian(header[BlockSizeOffset..]);
        if (blockSize != VirtualDisk.BlockSize)
        {
            throw new InvalidDataException($"{path} has {blockSize}-byte blocks; this build reads {VirtualDisk.BlockSize}-byte blocks");
        }

        blockCount = BinaryPrimitives.ReadInt64LittleEndian(header[BlockCountOffset..]);
        if (blockCount < 1 || blockCount > VirtualDisk.MaximumBlocks)
        {
            throw new InvalidDataException($"{path} says it has {blockCount} blocks; a disk has 1 to {VirtualDisk.MaximumBlocks}");
        }

        var pathBytes = BinaryPrimitives.ReadUInt16LittleEndian(header[ParentPathLengthOffset..]);
        if (pathBytes > MaxParentPathBytes)
        {
            throw new InvalidDataException($"{path} says its parent's path is {pathBytes} bytes; a header holds at most {MaxParentPathBytes}");
        }

        return Encoding.UTF8.GetString(header.Slice(ParentPathOffset, pathBytes));
    }

    private static CowDiskLayer Load(SafeFileHandle handle, string path, IBlockDevice parent)
    {
        var header = ReadHeader(handle, path);
        var parentPath = ParseHeader(header, path, out var blockCount);
        if (blockCount != parent.BlockCount)
        {
            throw new ArgumentException(
                $"the layer {path} was made over a disk of {blockCount} blocks, but {parent.Path} has {parent.BlockCount}", nameof(parent));
        }

        // The newest intact flush mark says how many records were acknowledged as durable.
        ulong sequence = 0;
        long durable = -1;
        for (var slot = 0; slot < 2; slot++)
        {
            var mark = header.AsSpan(FlushMarkOffset + (slot * FlushMarkSlotSize), FlushMarkSize);
            var markSequence = BinaryPrimitives.ReadUInt64LittleEndian(mark[FlushMarkSequenceOffset..]);
            var markDurable = BinaryPrimitives.ReadInt64LittleEndian(mark[FlushMarkDurableOffset..]);
            var intact = BinaryPrimitives.ReadUInt32LittleEndian(mark[FlushMarkChecksumOffset..]) == Crc32.HashToUInt32(mark[..FlushMarkChecksumOffset]);
            if (intact && markDurable >= 0 && (durable < 0 || markSequence > sequence))
            {
                sequence = markSequence;
                durable = markDurable;
            }
        }

        if (durable < 0)
        {
            throw new InvalidDataException($"{path}: both flush marks of the copy-on-write layer are damaged");
        }

        var length = RandomAccess.GetLength(handle);
        var whole = (length - HeaderSize) / RecordSize;
        if (durable > whole)
        {
            throw new InvalidDataException(
                $"{path} holds {whole} whole records, but its last flush made {durable} durable: the file was cut short");
        }

        var records = new Dictionary<long, long>();
        var valid = Scan(handle, path, blockCount, whole, durable, records);

        var end = RecordOffset(valid);
        if (length != end)
        {
            // Cut the unacknowledged tail off now, and make the cut durable before any new record
            // can be appended over it; see the remarks on the class.
            RandomAccess.SetLength(handle, end);
            RandomAccess.FlushToDisk(handle);
        }

        return new CowDiskLayer(handle, path, parent, parentPath, records, valid, durable, sequence);
    }

    // Reads records [0, whole) in order into the map; returns how many are valid before the first
    // damaged one. A damaged record below `durable` is corruption and throws.
    private static long Scan(SafeFileHandle handle, string path, long blockCount, long whole, long durable, Dictionary<long, long> records)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(RecordsPerScan * RecordSize);
        try
        {
            for (long first = 0; first < whole; first += RecordsPerScan)
            {
                var count = (int)Math.Min(RecordsPerScan, whole - first);
                var chunk = buffer.AsSpan(0, count * RecordSize);
                BlockIo.ReadExactly(handle, chunk, RecordOffset(first), path, block: -1);
                for (var i = 0; i < count; i++)
                {
                    var index = first + i;
                    var record = chunk.Slice(i * RecordSize, RecordSize);
                    var damage = RecordDamage(record, blockCount);
                    if (damage is not null)
                    {
                        if (index < durable)
                        {
                            throw new InvalidDataException(
                                $"{path}: record {index} at byte {RecordOffset(index)} {damage}, and a flush had made it durable: the layer is damaged");
                        }

                        return index;
                    }

                    records[BinaryPrimitives.ReadInt64LittleEndian(record[RecordBlockOffset..])] = index;
                }
            }

            return whole;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static string? RecordDamage(ReadOnlySpan<byte> record, long blockCount)
    {
        var marker = BinaryPrimitives.ReadUInt32LittleEndian(record[RecordMarkerOffset..]);
        if (marker != RecordMarker)
        {
            return $"has no record marker (0x{marker:X8})";
        }

        var stored = BinaryPrimitives.ReadUInt32LittleEndian(record[RecordChecksumOffset..]);
        var computed = Crc32.HashToUInt32(record[RecordBlockOffset..]);
        if (stored != computed)
        {
            return $"fails its checksum (0x{stored:X8}, computed 0x{computed:X8})";
        }

        var block = BinaryPrimitives.ReadInt64LittleEndian(record[RecordBlockOffset..]);
        return block < 0 || block >= blockCount ? $"names block {block}, outside the layer's {blockCount} blocks" : null;
    }
}
