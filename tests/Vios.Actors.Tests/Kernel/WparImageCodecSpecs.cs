using System.Buffers.Binary;
using System.IO.Hashing;
using CsCheck;
using Vios.Actors.Kernel;

namespace Vios.Actors.Tests.Kernel;

/// <summary>
/// The "KERN" image codec: deterministic (<c>Encode(Decode(bytes)) == bytes</c>), the same bytes for a
/// WPAR before and after a move, and robust: any input is an image or a <see cref="WparImageException"/>,
/// and a restart of anything that decodes either restarts or is refused, never throws.
/// </summary>
public sealed class WparImageCodecSpecs
{
    private static readonly Gen<WparImage> Images = GuestCall.Any.Array[0, 200].Select(calls =>
    {
        var kernel = new GuestKernel(KernelIdentity.Default);
        var wpar = kernel.CreateWpar("codec").Value;
        var programs = new GuestPrograms();
        programs.Start(wpar);
        foreach (var call in calls) programs.Run(wpar, call);
        return kernel.Checkpoint(wpar.Id);
    });

    /// <summary>Writes a header with a correct checksum in front of any body.</summary>
    private static byte[] WithHeader(ReadOnlySpan<byte> body)
    {
        var bytes = new byte[WparImageLayout.HeaderLength + body.Length];
        "KERN"u8.CopyTo(bytes);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(WparImageLayout.VersionOffset), WparImageLayout.CurrentVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(WparImageLayout.BodyLengthOffset), (uint)body.Length);
        body.CopyTo(bytes.AsSpan(WparImageLayout.HeaderLength));
        var hash = new XxHash64();
        hash.Append(bytes.AsSpan(0, WparImageLayout.ChecksumOffset));
        hash.Append(body);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(WparImageLayout.ChecksumOffset), hash.GetCurrentHashAsUInt64());
        return bytes;
    }

    [Fact]
    public void Decoding_and_encoding_again_gives_the_same_bytes()
    {
        Images.Sample(image =>
        {
            var bytes = WparImageCodec.Encode(image);
            Assert.Equal(bytes, WparImageCodec.Encode(WparImageCodec.Decode(bytes)));
            Assert.Equal(bytes, WparImageCodec.Encode(image));
        }, iter: 300);
    }

    [Fact]
    public void A_moved_wpar_checkpoints_to_the_same_bytes_as_before_the_move()
    {
        Images.Sample(image =>
        {
            var target = WparRestartModelSpecs.OtherNode(2);
            var moved = Assert.IsType<WparRestarted>(target.Restart(image));
            Assert.Equal(WparImageCodec.Encode(image), WparImageCodec.Encode(target.Checkpoint(moved.WparId)));
        }, iter: 300);
    }

    [Fact]
    public void Random_bytes_are_an_image_error_never_a_crash()
    {
        Gen.Byte.Array[0, 200].Sample(bytes =>
        {
            var error = Assert.Throws<WparImageException>(() => WparImageCodec.Decode(bytes));
            Assert.StartsWith(error.Kind.ToString(), error.Message);
        }, iter: 5000);
    }

    [Fact]
    public void A_random_body_under_a_correct_checksum_is_malformed_never_a_crash()
    {
        Gen.Byte.Array[0, 400].Sample(body =>
        {
            var error = Assert.Throws<WparImageException>(() => WparImageCodec.Decode(WithHeader(body)));
            Assert.Equal(WparImageError.Malformed, error.Kind);
        }, iter: 5000);
    }

    [Fact]
    public void An_image_with_a_changed_body_byte_and_a_fixed_checksum_decodes_and_restarts_or_is_refused_never_crashes()
    {
        var restarted = 0;
        var refused = 0;
        Gen.Select(Images, Gen.Int[0, int.MaxValue], Gen.Byte[1, 255]).Sample((image, at, flip) =>
        {
            var body = WparImageCodec.Encode(image)[WparImageLayout.HeaderLength..];
            body[at % body.Length] ^= flip;
            WparImage decoded;
            try
            {
                decoded = WparImageCodec.Decode(WithHeader(body));
            }
            catch (WparImageException e)
            {
                Assert.Equal(WparImageError.Malformed, e.Kind);
                return;
            }
            var result = new GuestKernel(KernelIdentity.Default).Restart(decoded);
            if (result is WparRestarted) Interlocked.Increment(ref restarted);
            else Interlocked.Increment(ref refused);
        }, iter: 3000);
        Assert.True(refused > 100, $"only {refused} changed images were refused");
        Assert.True(restarted > 100, $"only {restarted} changed images restarted (changed data bytes are still an image)");
    }

    [Fact]
    public void The_header_is_checked_field_by_field()
    {
        var bytes = WparImageCodec.Encode(Images.Single());

        static WparImageError ErrorOf(byte[] damaged) => Assert.Throws<WparImageException>(() => WparImageCodec.Decode(damaged)).Kind;

        var magic = (byte[])bytes.Clone();
        magic[0] = (byte)'X';
        Assert.Equal(WparImageError.BadMagic, ErrorOf(magic));
        var version = (byte[])bytes.Clone();
        version[WparImageLayout.VersionOffset] = 2;
        Assert.Equal(WparImageError.UnsupportedVersion, ErrorOf(version));
        var reserved = (byte[])bytes.Clone();
        reserved[WparImageLayout.ReservedOffset] = 1;
        Assert.Equal(WparImageError.LengthMismatch, ErrorOf(reserved));
        Assert.Equal(WparImageError.LengthMismatch, ErrorOf([.. bytes, 0]));
        Assert.Equal(WparImageError.Truncated, ErrorOf(bytes[..^1]));
        Assert.Equal(WparImageError.Truncated, ErrorOf(bytes[..(WparImageLayout.HeaderLength - 1)]));
        var checksum = (byte[])bytes.Clone();
        checksum[WparImageLayout.ChecksumOffset] ^= 1;
        Assert.Equal(WparImageError.ChecksumMismatch, ErrorOf(checksum));
        Assert.Equal("KERN"u8.ToArray(), bytes[..4]);
        Assert.Equal("WPAR"u8.ToArray(), bytes[WparImageLayout.HeaderLength..(WparImageLayout.HeaderLength + 4)]);
    }

    [Fact]
    public void A_count_larger_than_the_bytes_left_is_malformed_before_anything_is_allocated()
    {
        var body = WparImageCodec.Encode(Images.Single())[WparImageLayout.HeaderLength..];
        // The PROC section's process count follows the WPAR section.
        var procAt = WparImageLayout.SectionHeaderLength + BinaryPrimitives.ReadInt32LittleEndian(body.AsSpan(4));
        Assert.Equal("PROC"u8.ToArray(), body[procAt..(procAt + 4)]);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(procAt + WparImageLayout.SectionHeaderLength), uint.MaxValue);

        var error = Assert.Throws<WparImageException>(() => WparImageCodec.Decode(WithHeader(body)));

        Assert.Equal(WparImageError.Malformed, error.Kind);
        Assert.StartsWith("Malformed: section PROC: a count of 4294967295 items cannot fit", error.Message);
    }
}
