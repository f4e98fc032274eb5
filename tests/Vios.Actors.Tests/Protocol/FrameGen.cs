using CsCheck;
using Vios.Actors.Protocol;

namespace Vios.Actors.Tests.Protocol;

/// <summary>Generators of frames the codec must accept, and of packets it must survive.</summary>
internal static class FrameGen
{
    // Pieces of daemon ids: ASCII, two-, three- and four-byte UTF-8 (surrogate pairs), NUL and DEL.
    private static readonly string[] DaemonIdPieces =
        ["a", "z", "Q", "0", "9", "-", "_", ".", "/", " ", "ä", "ß", "é", "€", "日", "本", "語", "🙂", "𝄞", "\u0000", "\u007F"];

    public static readonly Gen<string> DaemonId = Gen.Frequency(
        (10, Gen.Int[0, DaemonIdPieces.Length - 1].Array[1, 40].Select(pieces => string.Concat(pieces.Select(i => DaemonIdPieces[i])))),
        // Exactly at the 255-byte limit, partly in four-byte characters.
        (2, Gen.Int[0, 63].Select(emoji => new string('d', FrameLayout.MaxDaemonIdBytes - 4 * emoji) + string.Concat(Enumerable.Repeat("🙂", emoji)))),
        (1, Gen.Const("d")));

    public static readonly Gen<ulong> NonZero = Gen.Frequency(
        (8, Gen.ULong.Select(v => v == 0 ? 1 : v)),
        (1, Gen.Const(1UL)),
        (1, Gen.Const(ulong.MaxValue)));

    public static readonly Gen<TimeSpan?> Timeout = Gen.Nullable(
        Gen.Frequency((8, Gen.UInt), (1, Gen.Const(0u)), (1, Gen.Const(uint.MaxValue)))
            .Select(ms => TimeSpan.FromTicks(ms * TimeSpan.TicksPerMillisecond)),
        0.3);

    /// <summary>0..64 KiB, and now and then within 4 KiB of the 1 MiB default maximum (inclusive).</summary>
    public static readonly Gen<byte[]> Payload = Gen.Frequency(
        (40, Gen.Byte.Array[0, 64 * 1024]),
        (5, Gen.Byte.Array[0, 16]),
        (1, Gen.Byte.Array[FrameLayout.DefaultMaxPayload - 4096, FrameLayout.DefaultMaxPayload]));

    public static readonly Gen<byte[]> SmallPayload = Gen.Byte.Array[0, 512];

    public static Gen<ViosFrame> Frame(Gen<byte[]> payload) =>
        Gen.Select(Gen.Enum<MessageKind>(), Gen.Bool, Gen.Bool, Gen.Select(NonZero, NonZero, NonZero, (id, source, destination) => (id, source, destination)),
                Gen.Select(DaemonId, DaemonId, (sending, receiving) => (sending, receiving)), Gen.Int[0, 100_000], NonZero, Gen.Bool, Timeout, payload,
            static (kind, broadcast, responseRequired, ids, daemons, expected, correlation, correlateSend, timeout, bytes) =>
                new ViosFrame(
                    new FrameHeader(
                        kind,
                        (broadcast ? FrameFlags.Broadcast : FrameFlags.None) | (responseRequired ? FrameFlags.ResponseRequired : FrameFlags.None),
                        ids.id,
                        ids.source,
                        broadcast ? NodeIds.None : ids.destination),
                    new SubHeader(daemons.sending, daemons.receiving)
                    {
                        ResponseRequired = responseRequired,
                        ExpectedResponses = responseRequired ? expected : 0,
                        // A send may or may not carry a correlation id; a response or error always does.
                        CorrelationId = kind == MessageKind.Send && !correlateSend ? 0 : correlation,
                        Timeout = timeout,
                    },
                    bytes));

    public static readonly Gen<ViosFrame> AnyFrame = Frame(Payload);

    public static readonly Gen<ViosFrame> SmallFrame = Frame(SmallPayload);
}
