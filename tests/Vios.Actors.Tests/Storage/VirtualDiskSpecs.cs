using System.Security.Cryptography;
using CsCheck;
using Vios.Actors.Storage;
using Vios.Testing;

namespace Vios.Actors.Tests.Storage;

/// <summary>A base disk file: blocks survive reopening, bad files and bad block numbers are refused.</summary>
public sealed class VirtualDiskSpecs : IDisposable
{
    private readonly TempDirectory _dir = new("vios-disk");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Blocks_written_are_read_back_after_reopen()
    {
        var path = _dir.Sub("base.disk");
        using (var disk = VirtualDisk.Create(path, 16))
        {
            disk.Write(0, Blocks.Filled(1));
            disk.Write(7, Blocks.Filled(2));
            disk.Write(15, Blocks.Filled(3));
            disk.Flush();
        }

        Assert.Equal(16L * VirtualDisk.BlockSize, new FileInfo(path).Length);
        using var reopened = VirtualDisk.Open(path);
        Assert.Equal(16, reopened.BlockCount);
        Assert.Equal(Path.GetFullPath(path), reopened.Path);
        Assert.Equal(Blocks.Filled(1), Blocks.Read(reopened, 0));
        Assert.Equal(Blocks.Filled(2), Blocks.Read(reopened, 7));
        Assert.Equal(Blocks.Filled(3), Blocks.Read(reopened, 15));
        Assert.Equal(Blocks.Zero, Blocks.Read(reopened, 8));
    }

    [Fact]
    public void A_large_disk_is_created_without_writing_its_blocks()
    {
        // 64 GiB: only a sparse file makes this instant and leaves the test machine's disk alone.
        const long blocks = 64L * 1024 * 1024 * 1024 / VirtualDisk.BlockSize;
        var path = _dir.Sub("large.disk");
        using var disk = VirtualDisk.Create(path, blocks);
        disk.Write(blocks - 1, Blocks.Filled(9));
        Assert.Equal(Blocks.Filled(9), Blocks.Read(disk, blocks - 1));
        Assert.Equal(Blocks.Zero, Blocks.Read(disk, blocks / 2));
        Assert.Equal(blocks * VirtualDisk.BlockSize, new FileInfo(path).Length);
    }

    [Fact]
    public void An_existing_file_is_never_overwritten_by_create()
    {
        var path = _dir.Sub("base.disk");
        File.WriteAllBytes(path, Blocks.Filled(4));
        Assert.Throws<IOException>(() => VirtualDisk.Create(path, 4));
        Assert.Equal(Blocks.Filled(4), File.ReadAllBytes(path));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(100)]
    [InlineData((3 * VirtualDisk.BlockSize) + 1)]
    public void A_file_that_is_not_whole_blocks_is_refused_naming_it(int length)
    {
        var path = _dir.Sub("odd.disk");
        File.WriteAllBytes(path, new byte[length]);
        var error = Assert.Throws<InvalidDataException>(() => VirtualDisk.Open(path));
        Assert.Contains(path, error.Message);
        Assert.Contains($"{length} bytes, not a whole", error.Message);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(16)]
    [InlineData(long.MaxValue)]
    public void Block_numbers_off_the_disk_are_refused(long block)
    {
        using var disk = VirtualDisk.Create(_dir.Sub("base.disk"), 16);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Blocks.Read(disk, block));
        Assert.Contains("outside the 16 blocks", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => disk.Write(block, Blocks.Filled(1)));
    }

    [Fact]
    public void A_buffer_that_is_not_one_block_is_refused()
    {
        using var disk = VirtualDisk.Create(_dir.Sub("base.disk"), 4);
        Assert.Throws<ArgumentException>(() => disk.Write(0, new byte[VirtualDisk.BlockSize - 1]));
        Assert.Throws<ArgumentException>(() => disk.Read(0, new byte[VirtualDisk.BlockSize + 1]));
    }

    [Fact]
    public void A_disk_opened_read_only_reads_and_refuses_writes()
    {
        var path = _dir.Sub("base.disk");
        using var writer = VirtualDisk.Create(path, 4);
        writer.Write(2, Blocks.Filled(5));

        // Read-only sharing lets a copy be taken while the LPAR still has the disk open.
        using var reader = VirtualDisk.Open(path, readOnly: true);
        Assert.True(reader.IsReadOnly);
        Assert.Equal(Blocks.Filled(5), Blocks.Read(reader, 2));
        var error = Assert.Throws<InvalidOperationException>(() => reader.Write(2, Blocks.Filled(6)));
        Assert.Contains("read-only", error.Message);
        Assert.Equal(Blocks.Filled(5), Blocks.Read(writer, 2));
    }
}

/// <summary>
/// A copy-on-write layer (S24): reads fall through, writes stay in the layer and the parent file is
/// untouched, the layer reopens after a crash, and commit carries it into the parent.
/// </summary>
public sealed class CowDiskLayerSpecs : IDisposable
{
    private const long DiskBlocks = 16;
    private readonly TempDirectory _dir = new("vios-cow");

    public void Dispose() => _dir.Dispose();

    private string BasePath => _dir.Sub("base.disk");

    private string LayerPath => _dir.Sub("layer.cow");

    [Fact]
    public void Reads_fall_through_to_the_parent_and_writes_leave_the_parent_file_unchanged()
    {
        using var disk = DiskWithData();
        disk.Flush();
        var before = SHA256.HashData(File.ReadAllBytes(BasePath));

        using var layer = CowDiskLayer.CreateOver(disk, LayerPath);
        Assert.Equal(DiskBlocks, layer.BlockCount);
        Assert.Equal(0, layer.WrittenBlocks);
        for (var block = 0; block < DiskBlocks; block++)
        {
            Assert.Equal(Blocks.Read(disk, block), Blocks.Read(layer, block));
        }

        layer.Write(1, Blocks.Filled(0xA1));
        layer.Write(2, Blocks.Filled(0xA2));
        layer.Write(1, Blocks.Filled(0xB1));
        layer.Flush();

        Assert.Equal(2, layer.WrittenBlocks);
        Assert.Equal(Blocks.Filled(0xB1), Blocks.Read(layer, 1));
        Assert.Equal(Blocks.Filled(0xA2), Blocks.Read(layer, 2));
        Assert.Equal(Blocks.Filled(13), Blocks.Read(layer, 3));
        Assert.Equal(Blocks.Filled(11), Blocks.Read(disk, 1));
        // What a checkpoint retains: the parent file, byte for byte as it was when the layer was made.
        Assert.Equal(before, SHA256.HashData(File.ReadAllBytes(BasePath)));
    }

    [Fact]
    public void Creating_a_layer_copies_nothing_and_it_shows_the_parent_as_the_guest_keeps_writing_it()
    {
        using var disk = DiskWithData();
        using var layer = CowDiskLayer.CreateOver(disk, LayerPath);
        Assert.Equal(CowDiskLayer.HeaderSize, new FileInfo(LayerPath).Length);
        Assert.Equal(disk.Path, layer.ParentPath);
        Assert.Equal(disk.Path, CowDiskLayer.ReadParentPath(LayerPath));

        // S24: the layer is made while the VM still runs on the parent, so until the switch the
        // parent changes under the layer, and the layer shows those changes.
        disk.Write(4, Blocks.Filled(0x44));
        Assert.Equal(Blocks.Filled(0x44), Blocks.Read(layer, 4));
    }

    [Fact]
    public void A_reopened_layer_reads_its_blocks_back()
    {
        using var disk = DiskWithData();
        using (var layer = CowDiskLayer.CreateOver(disk, LayerPath))
        {
            layer.Write(3, Blocks.Filled(0x31));
            layer.Write(9, Blocks.Filled(0x91));
            layer.Flush();
            // Rewritten after the flush (a new record) and written without any flush at all.
            layer.Write(3, Blocks.Filled(0x32));
            layer.Write(15, Blocks.Filled(0xF1));
        }

        using (var reopened = CowDiskLayer.Open(disk, LayerPath))
        {
            Assert.Equal(3, reopened.WrittenBlocks);
            Assert.Equal(Blocks.Filled(0x32), Blocks.Read(reopened, 3));
            Assert.Equal(Blocks.Filled(0x91), Blocks.Read(reopened, 9));
            Assert.Equal(Blocks.Filled(0xF1), Blocks.Read(reopened, 15));
            Assert.Equal(Blocks.Filled(10), Blocks.Read(reopened, 0));

            reopened.Write(0, Blocks.Filled(0x01));
            reopened.Flush();
        }

        using var again = CowDiskLayer.Open(disk, LayerPath);
        Assert.Equal(4, again.WrittenBlocks);
        Assert.Equal(Blocks.Filled(0x01), Blocks.Read(again, 0));
        Assert.Equal(Blocks.Filled(0x32), Blocks.Read(again, 3));
    }

    [Fact]
    public void A_block_rewritten_before_a_flush_is_overwritten_in_place_and_after_a_flush_is_appended()
    {
        using var disk = DiskWithData();
        using var layer = CowDiskLayer.CreateOver(disk, LayerPath);
        for (var i = 0; i < 5; i++)
        {
            layer.Write(6, Blocks.Filled((byte)i));
        }

        Assert.Equal(Records(1), new FileInfo(LayerPath).Length);

        // The record is durable now; a rewrite must not touch it, since a crash could tear it.
        layer.Flush();
        layer.Write(6, Blocks.Filled(0x66));
        Assert.Equal(Records(2), new FileInfo(LayerPath).Length);
        Assert.Equal(Blocks.Filled(0x66), Blocks.Read(layer, 6));
        Assert.Equal(1, layer.WrittenBlocks);
    }

    [Fact]
    public void Commit_into_the_parent_makes_it_read_as_the_layer_did()
    {
        using var disk = DiskWithData();
        using var layer = CowDiskLayer.CreateOver(disk, LayerPath);
        layer.Write(0, Blocks.Filled(0xC0));
        layer.Write(5, Blocks.Filled(0xC5));
        layer.Write(15, Blocks.Filled(0xCF));
        var shown = Blocks.ReadAll(layer);

        Assert.Equal(3, layer.CommitInto(disk));

        Assert.Equal(shown, Blocks.ReadAll(disk));
        disk.Dispose();
        using var reopened = VirtualDisk.Open(BasePath);
        Assert.Equal(shown, Blocks.ReadAll(reopened));
    }

    [Fact]
    public void Commit_into_a_copy_of_the_parent_leaves_the_retained_parent_alone()
    {
        // S24: "If a copy of the parent disk file was made, then the COW disk file may be committed".
        using var disk = DiskWithData();
        disk.Flush();
        var copyPath = _dir.Sub("copy.disk");
        File.Copy(BasePath, copyPath);
        var retained = File.ReadAllBytes(BasePath);
        using var layer = CowDiskLayer.CreateOver(disk, LayerPath);
        layer.Write(8, Blocks.Filled(0x88));

        using var copy = VirtualDisk.Open(copyPath);
        layer.CommitInto(copy);

        Assert.Equal(Blocks.ReadAll(layer), Blocks.ReadAll(copy));
        Assert.Equal(retained, File.ReadAllBytes(BasePath));
    }

    [Fact]
    public void A_target_of_another_size_is_refused_for_commit()
    {
        using var disk = DiskWithData();
        using var layer = CowDiskLayer.CreateOver(disk, LayerPath);
        using var other = VirtualDisk.Create(_dir.Sub("other.disk"), DiskBlocks + 1);
        Assert.Throws<ArgumentException>(() => layer.CommitInto(other));
        Assert.Throws<ArgumentException>(() => layer.CommitInto(layer));
    }

    [Fact]
    public void Layers_stack_two_deep()
    {
        using var disk = DiskWithData();
        var basePicture = Blocks.ReadAll(disk);
        using var first = CowDiskLayer.CreateOver(disk, _dir.Sub("first.cow"));
        first.Write(1, Blocks.Filled(0x11));
        first.Write(2, Blocks.Filled(0x12));
        var firstPicture = Blocks.ReadAll(first);

        using var second = CowDiskLayer.CreateOver(first, _dir.Sub("second.cow"));
        second.Write(2, Blocks.Filled(0x22));
        second.Write(3, Blocks.Filled(0x23));

        Assert.Equal(Blocks.Filled(0x11), Blocks.Read(second, 1));
        Assert.Equal(Blocks.Filled(0x22), Blocks.Read(second, 2));
        Assert.Equal(Blocks.Filled(0x23), Blocks.Read(second, 3));
        Assert.Equal(Blocks.Filled(14), Blocks.Read(second, 4));
        Assert.Equal(firstPicture, Blocks.ReadAll(first));
        Assert.Equal(basePicture, Blocks.ReadAll(disk));
        Assert.Equal(first.Path, CowDiskLayer.ReadParentPath(second.Path));

        second.Flush();
        var secondPicture = Blocks.ReadAll(second);
        second.Dispose();
        using var reopened = CowDiskLayer.Open(first, _dir.Sub("second.cow"));
        Assert.Equal(secondPicture, Blocks.ReadAll(reopened));

        // Commit the top into the middle: the middle now shows what the top did, the base is still the base.
        reopened.CommitInto(first);
        Assert.Equal(secondPicture, Blocks.ReadAll(first));
        Assert.Equal(basePicture, Blocks.ReadAll(disk));
    }

    [Fact]
    public void A_torn_final_record_is_ignored_on_reopen()
    {
        using var disk = DiskWithData();
        using (var layer = CowDiskLayer.CreateOver(disk, LayerPath))
        {
            layer.Write(1, Blocks.Filled(0xA1));
            layer.Write(2, Blocks.Filled(0xA2));
            layer.Flush();
            layer.Write(3, Blocks.Filled(0xA3));
        }

        // A crash in the middle of the last, unflushed write: part of its record reached the file.
        Truncate(LayerPath, Records(3) - 1000);

        using var reopened = CowDiskLayer.Open(disk, LayerPath);
        Assert.Equal(2, reopened.WrittenBlocks);
        Assert.Equal(Blocks.Filled(0xA1), Blocks.Read(reopened, 1));
        Assert.Equal(Blocks.Filled(0xA2), Blocks.Read(reopened, 2));
        Assert.Equal(Blocks.Filled(13), Blocks.Read(reopened, 3));
        Assert.Equal(Records(2), new FileInfo(LayerPath).Length);
    }

    [Fact]
    public void A_whole_final_record_with_bad_contents_is_ignored_on_reopen()
    {
        // The file system may extend the file before the data lands: a record of the right length, wrong bytes.
        using var disk = DiskWithData();
        using (var layer = CowDiskLayer.CreateOver(disk, LayerPath))
        {
            layer.Write(1, Blocks.Filled(0xA1));
            layer.Flush();
            layer.Write(2, Blocks.Filled(0xA2));
        }

        Poke(LayerPath, Records(1) + CowDiskLayer.RecordDataOffset + 100, 0);

        using var reopened = CowDiskLayer.Open(disk, LayerPath);
        Assert.Equal(1, reopened.WrittenBlocks);
        Assert.Equal(Blocks.Filled(12), Blocks.Read(reopened, 2));
    }

    [Fact]
    public void Records_behind_a_torn_one_are_cut_off_and_do_not_come_back()
    {
        using var disk = DiskWithData();
        using (var layer = CowDiskLayer.CreateOver(disk, LayerPath))
        {
            layer.Write(1, Blocks.Filled(0xA1));
            layer.Write(2, Blocks.Filled(0xA2));
            layer.Write(3, Blocks.Filled(0xA3));
        }

        // None was flushed; the crash lost the middle one.
        Poke(LayerPath, Records(1) + CowDiskLayer.RecordDataOffset, 0xEE);

        using (var reopened = CowDiskLayer.Open(disk, LayerPath))
        {
            Assert.Equal(1, reopened.WrittenBlocks);
            Assert.Equal(Blocks.Filled(13), Blocks.Read(reopened, 3));
            Assert.Equal(Records(1), new FileInfo(LayerPath).Length);
            reopened.Write(4, Blocks.Filled(0xA4));
        }

        // Had the tail been left in the file, the new record would sit where the torn one was and the
        // stale record of block 3 behind it would be read back as valid.
        using var again = CowDiskLayer.Open(disk, LayerPath);
        Assert.Equal(2, again.WrittenBlocks);
        Assert.Equal(Blocks.Filled(0xA4), Blocks.Read(again, 4));
        Assert.Equal(Blocks.Filled(13), Blocks.Read(again, 3));
    }

    [Fact]
    public void Damage_to_a_flushed_record_is_refused_naming_the_file_and_record()
    {
        using var disk = DiskWithData();
        using (var layer = CowDiskLayer.CreateOver(disk, LayerPath))
        {
            layer.Write(1, Blocks.Filled(0xA1));
            layer.Write(2, Blocks.Filled(0xA2));
            layer.Flush();
        }

        Poke(LayerPath, Records(0) + CowDiskLayer.RecordDataOffset + 7, 0x00);

        var error = Assert.Throws<InvalidDataException>(() => CowDiskLayer.Open(disk, LayerPath));
        Assert.Contains(LayerPath, error.Message);
        Assert.Contains("record 0", error.Message);
        Assert.Contains("checksum", error.Message);
    }

    [Fact]
    public void The_newest_flush_mark_decides_what_was_durable()
    {
        using var disk = DiskWithData();
        using (var layer = CowDiskLayer.CreateOver(disk, LayerPath))
        {
            layer.Write(1, Blocks.Filled(0xA1));
            layer.Flush(); // sequence 1 in slot 1: one record
            layer.Write(2, Blocks.Filled(0xA2));
            layer.Flush(); // sequence 2 in slot 0: two records
        }

        // Under the older mark the second record would be an unacknowledged tail and dropped quietly.
        Poke(LayerPath, Records(1) + CowDiskLayer.RecordDataOffset, 0x00);
        var error = Assert.Throws<InvalidDataException>(() => CowDiskLayer.Open(disk, LayerPath));
        Assert.Contains("record 1", error.Message);
    }

    [Fact]
    public void A_layer_cut_short_of_its_last_flush_is_refused()
    {
        using var disk = DiskWithData();
        using (var layer = CowDiskLayer.CreateOver(disk, LayerPath))
        {
            layer.Write(1, Blocks.Filled(0xA1));
            layer.Write(2, Blocks.Filled(0xA2));
            layer.Flush();
        }

        Truncate(LayerPath, Records(1) + 10);

        var error = Assert.Throws<InvalidDataException>(() => CowDiskLayer.Open(disk, LayerPath));
        Assert.Contains(LayerPath, error.Message);
        Assert.Contains("holds 1 whole records, but its last flush made 2 durable", error.Message);
    }

    [Fact]
    public void A_damaged_newest_flush_mark_falls_back_to_the_one_before()
    {
        using var disk = DiskWithData();
        using (var layer = CowDiskLayer.CreateOver(disk, LayerPath))
        {
            layer.Write(1, Blocks.Filled(0xA1));
            layer.Flush(); // sequence 1, slot 1
            layer.Write(2, Blocks.Filled(0xA2));
            layer.Flush(); // sequence 2, slot 0
        }

        // Slot 0 torn: the older mark vouches for one record; the second is intact and still read.
        Poke(LayerPath, CowDiskLayer.FlushMarkOffset + CowDiskLayer.FlushMarkDurableOffset, 0x7F);
        using (var reopened = CowDiskLayer.Open(disk, LayerPath))
        {
            Assert.Equal(2, reopened.WrittenBlocks);
            Assert.Equal(Blocks.Filled(0xA2), Blocks.Read(reopened, 2));
        }

        // Both marks damaged: nothing says what was durable.
        Poke(LayerPath, CowDiskLayer.FlushMarkOffset + CowDiskLayer.FlushMarkSlotSize, 0x7F);
        var error = Assert.Throws<InvalidDataException>(() => CowDiskLayer.Open(disk, LayerPath));
        Assert.Contains(LayerPath, error.Message);
        Assert.Contains("both flush marks", error.Message);
    }

    [Fact]
    public void A_garbage_layer_file_is_refused_naming_it()
    {
        using var disk = DiskWithData();
        var garbage = new byte[3 * VirtualDisk.BlockSize];
        new Random(24).NextBytes(garbage);
        File.WriteAllBytes(LayerPath, garbage);

        var error = Assert.Throws<InvalidDataException>(() => CowDiskLayer.Open(disk, LayerPath));
        Assert.Contains(LayerPath, error.Message);
        Assert.Contains("is not a copy-on-write layer", error.Message);
        Assert.Equal(garbage, File.ReadAllBytes(LayerPath));
    }

    [Fact]
    public void A_layer_file_shorter_than_its_header_is_refused_naming_it()
    {
        using var disk = DiskWithData();
        File.WriteAllBytes(LayerPath, "VIOSCOW1"u8.ToArray());
        var error = Assert.Throws<InvalidDataException>(() => CowDiskLayer.Open(disk, LayerPath));
        Assert.Contains(LayerPath, error.Message);
        Assert.Contains("8 bytes, shorter than the 4096-byte header", error.Message);
    }

    [Fact]
    public void A_damaged_header_is_refused()
    {
        using var disk = DiskWithData();
        CowDiskLayer.CreateOver(disk, LayerPath).Dispose();
        Poke(LayerPath, CowDiskLayer.ParentPathOffset, (byte)'#');
        var error = Assert.Throws<InvalidDataException>(() => CowDiskLayer.Open(disk, LayerPath));
        Assert.Contains(LayerPath, error.Message);
        Assert.Contains("header is damaged", error.Message);
    }

    [Fact]
    public void A_layer_over_a_disk_of_another_size_is_refused()
    {
        using var disk = DiskWithData();
        CowDiskLayer.CreateOver(disk, LayerPath).Dispose();
        using var other = VirtualDisk.Create(_dir.Sub("other.disk"), DiskBlocks * 2);
        var error = Assert.Throws<ArgumentException>(() => CowDiskLayer.Open(other, LayerPath));
        Assert.Contains($"{DiskBlocks} blocks", error.Message);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(DiskBlocks)]
    public void Block_numbers_off_the_layer_are_refused(long block)
    {
        using var disk = DiskWithData();
        using var layer = CowDiskLayer.CreateOver(disk, LayerPath);
        Assert.Throws<ArgumentOutOfRangeException>(() => Blocks.Read(layer, block));
        Assert.Throws<ArgumentOutOfRangeException>(() => layer.Write(block, Blocks.Filled(1)));
        Assert.Equal(CowDiskLayer.HeaderSize, new FileInfo(LayerPath).Length);
    }

    [Fact]
    public void Any_sequence_of_writes_flushes_and_reopens_reads_as_the_model_and_commits_to_it()
    {
        // A write is (block, fill byte); null is a flush; a negative block is a close and reopen.
        var op = Gen.Frequency(
            (6, Gen.Select(Gen.Long[0, 7], Gen.Byte).Select(w => ((long, byte)?)w)),
            (2, Gen.Const(((long, byte)?)null)),
            (1, Gen.Const(((long, byte)?)(-1L, (byte)0))));
        var run = 0;
        op.Array[0, 30].Sample(ops =>
        {
            var dir = _dir.Sub($"run{Interlocked.Increment(ref run)}");
            Directory.CreateDirectory(dir);
            using var disk = VirtualDisk.Create(Path.Combine(dir, "base.disk"), 8);
            for (var block = 0; block < 8; block++) disk.Write(block, Blocks.Filled((byte)(200 + block)));
            var model = Blocks.ReadAll(disk);
            var parent = Blocks.ReadAll(disk);
            var layerPath = Path.Combine(dir, "layer.cow");
            var layer = CowDiskLayer.CreateOver(disk, layerPath);
            try
            {
                foreach (var step in ops)
                {
                    if (step is not { } write)
                    {
                        layer.Flush();
                    }
                    else if (write.Item1 < 0)
                    {
                        layer.Dispose();
                        layer = CowDiskLayer.Open(disk, layerPath);
                    }
                    else
                    {
                        layer.Write(write.Item1, Blocks.Filled(write.Item2));
                        model[write.Item1] = Blocks.Filled(write.Item2);
                    }

                    Assert.Equal(model, Blocks.ReadAll(layer));
                }

                Assert.Equal(parent, Blocks.ReadAll(disk));
                layer.CommitInto(disk);
                Assert.Equal(model, Blocks.ReadAll(disk));
            }
            finally
            {
                layer.Dispose();
            }
        }, iter: 20, threads: 1);
    }

    [Fact]
    public void Damage_anywhere_in_a_layer_file_opens_or_is_refused_with_invalid_data()
    {
        using var disk = DiskWithData();
        using (var layer = CowDiskLayer.CreateOver(disk, LayerPath))
        {
            layer.Write(1, Blocks.Filled(0xA1));
            layer.Flush();
            layer.Write(2, Blocks.Filled(0xA2));
            layer.Write(3, Blocks.Filled(0xA3));
        }

        var pristine = File.ReadAllBytes(LayerPath);
        var damagedPath = _dir.Sub("damaged.cow");
        var opened = 0;
        var refused = 0;
        // Mostly in the fixed header and flush marks, where fields are dense; the rest anywhere.
        var position = Gen.Frequency((1, Gen.Int[0, 64]), (1, Gen.Int[CowDiskLayer.FlushMarkOffset, CowDiskLayer.HeaderSize - 1]), (2, Gen.Int[0, pristine.Length - 1]));
        Gen.Select(position.Array[1, 4], Gen.Byte, Gen.Int[0, pristine.Length]).Sample((positions, value, cut) =>
        {
            var bytes = (byte[])pristine.Clone();
            foreach (var at in positions) bytes[at] ^= (byte)(value | 1);
            File.WriteAllBytes(damagedPath, cut < 64 ? bytes : bytes[..Math.Max(cut, CowDiskLayer.HeaderSize / 2)]);
            try
            {
                using var layer = CowDiskLayer.Open(disk, damagedPath);
                _ = Blocks.ReadAll(layer);
                opened++;
            }
            catch (InvalidDataException error)
            {
                Assert.Contains(damagedPath, error.Message);
                refused++;
            }
        }, iter: 300, threads: 1);

        // Both outcomes must occur, or the generator is not reaching the checks.
        Assert.True(opened > 0 && refused > 0, $"opened {opened}, refused {refused}");
    }

    private VirtualDisk DiskWithData()
    {
        var disk = VirtualDisk.Create(BasePath, DiskBlocks);
        for (var block = 0; block < DiskBlocks; block++)
        {
            disk.Write(block, Blocks.Filled((byte)(10 + block)));
        }

        return disk;
    }

    private static long Records(long count) => CowDiskLayer.HeaderSize + (count * CowDiskLayer.RecordSize);

    private static void Truncate(string path, long length)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
        file.SetLength(length);
    }

    private static void Poke(string path, long offset, byte value)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
        file.Position = offset;
        file.WriteByte(value);
    }
}

/// <summary>The LPAR's disk stack: the switch to a layer (S24 step 5) and the commit back.</summary>
public sealed class LparDiskSpecs : IDisposable
{
    private readonly TempDirectory _dir = new("vios-lpardisk");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void After_the_switch_writes_go_to_the_layer_and_the_parent_keeps_the_checkpoint()
    {
        using var disk = VirtualDisk.Create(_dir.Sub("base.disk"), 8);
        using var lpar = new LparDisk(disk);
        Assert.Same(disk, lpar.Top);
        lpar.Write(1, Blocks.Filled(0x01));

        // S24: the layer is created while the guest runs on the parent, which it goes on writing.
        using var layer = CowDiskLayer.CreateOver(disk, _dir.Sub("layer.cow"));
        lpar.Write(2, Blocks.Filled(0x02));
        lpar.SwitchTo(layer);
        Assert.Same(layer, lpar.Top);
        var checkpoint = File.ReadAllBytes(disk.Path);

        lpar.Write(1, Blocks.Filled(0x11));
        lpar.Write(3, Blocks.Filled(0x13));

        Assert.Equal(Blocks.Filled(0x11), Blocks.Read(lpar, 1));
        Assert.Equal(Blocks.Filled(0x02), Blocks.Read(lpar, 2));
        Assert.Equal(2, layer.WrittenBlocks);
        Assert.Equal(Blocks.Filled(0x01), Blocks.Read(disk, 1));
        Assert.Equal(checkpoint, File.ReadAllBytes(disk.Path));
    }

    [Fact]
    public void A_layer_that_is_not_over_the_current_top_is_refused()
    {
        using var disk = VirtualDisk.Create(_dir.Sub("base.disk"), 8);
        using var other = VirtualDisk.Create(_dir.Sub("other.disk"), 8);
        using var lpar = new LparDisk(disk);
        using var stray = CowDiskLayer.CreateOver(other, _dir.Sub("stray.cow"));

        var error = Assert.Throws<ArgumentException>(() => lpar.SwitchTo(stray));
        Assert.Contains("not on", error.Message);
        Assert.Same(disk, lpar.Top);
    }

    [Fact]
    public void Commit_of_the_top_puts_its_blocks_in_the_parent_and_makes_the_parent_the_top()
    {
        using var disk = VirtualDisk.Create(_dir.Sub("base.disk"), 8);
        using var lpar = new LparDisk(disk);
        Assert.Throws<InvalidOperationException>(() => lpar.CommitTop());

        using var layer = CowDiskLayer.CreateOver(disk, _dir.Sub("layer.cow"));
        lpar.SwitchTo(layer);
        lpar.Write(5, Blocks.Filled(0x55));
        var shown = Blocks.ReadAll(layer);

        Assert.Same(layer, lpar.CommitTop());
        Assert.Same(disk, lpar.Top);
        Assert.Equal(shown, Blocks.ReadAll(disk));
        // The guest writes the base disk directly again; the detached layer gains nothing.
        lpar.Write(6, Blocks.Filled(0x66));
        Assert.Equal(Blocks.Filled(0x66), Blocks.Read(disk, 6));
        Assert.Equal(1, layer.WrittenBlocks);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(8)]
    public void Block_numbers_off_the_disk_are_refused(long block)
    {
        using var disk = VirtualDisk.Create(_dir.Sub("base.disk"), 8);
        using var lpar = new LparDisk(disk);
        Assert.Throws<ArgumentOutOfRangeException>(() => Blocks.Read(lpar, block));
        Assert.Throws<ArgumentOutOfRangeException>(() => lpar.Write(block, Blocks.Filled(1)));
    }
}

internal static class Blocks
{
    public static byte[] Zero { get; } = new byte[VirtualDisk.BlockSize];

    /// <summary>A block of one byte value, with its first byte inverted so a shifted read shows.</summary>
    public static byte[] Filled(byte value)
    {
        var block = new byte[VirtualDisk.BlockSize];
        block.AsSpan().Fill(value);
        block[0] = (byte)~value;
        return block;
    }

    public static byte[] Read(IBlockDevice device, long block)
    {
        var bytes = new byte[VirtualDisk.BlockSize];
        device.Read(block, bytes);
        return bytes;
    }

    public static byte[] Read(LparDisk disk, long block)
    {
        var bytes = new byte[VirtualDisk.BlockSize];
        disk.Read(block, bytes);
        return bytes;
    }

    public static byte[][] ReadAll(IBlockDevice device)
    {
        var blocks = new byte[device.BlockCount][];
        for (long block = 0; block < device.BlockCount; block++)
        {
            blocks[block] = Read(device, block);
        }

        return blocks;
    }
}
