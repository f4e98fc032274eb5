using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Vios.Actors.Memory;

namespace Vios.Actors.Checkpoint;

/// <summary>
/// S23 page diffs for frequent checkpointing: for a page the backup's feedback marks as a
/// candidate, only the modification is sent, as the XOR of the last sent copy and the current
/// page with its zero runs left out. A page whose diff would not fit in
/// <see cref="MaxEncodedLength"/> is refused (<see cref="Encode"/> returns -1) and the caller sends
/// it whole.
/// </summary>
/// <remarks>
/// <para><b>Format.</b> The page is 512 words of 8 bytes; word <c>i</c> of the XOR is
/// <c>old[8i..8i+8] ^ current[8i..8i+8]</c>. A diff is a sequence of runs, each</para>
/// <code>
/// zero run    varint   unchanged (all-zero XOR) words skipped
/// literal     varint   changed words that follow, at least 1
/// XOR bytes   literal × 8 bytes, the XOR of those words in page order
/// </code>
/// <para>Varints are unsigned LEB128 (7 bits a byte, low bits first, high bit set when a byte
/// follows); run lengths are at most 512, so a varint is one byte below 128 and two bytes
/// otherwise, and a two-byte varint never ends in a zero byte. The unchanged words after the last
/// literal are implied, so an unchanged page is the empty diff (0 bytes). The XOR bytes are in page
/// order, so the format does not depend on the byte order of either machine.</para>
/// <para>The encoding is canonical: every literal is a maximal run of changed words, so only the
/// first zero run may be 0. <see cref="Apply"/> accepts only canonical diffs: a literal of 0 words,
/// a zero run of 0 after a literal, an overlong varint, a run past word 512, a literal cut short or
/// bytes after a run that ends the page are a <see cref="FormatException"/>.</para>
/// <para><b>Cost.</b> <see cref="Encode"/> first compares the two pages 32 bytes at a time and
/// builds a 512-bit map of changed words (equal 128-byte stretches cost one test); since a diff
/// holds 8 bytes per changed word whatever its runs, a page with more than
/// <c>MaxEncodedLength / 8</c> changed words is refused before a byte is written. Otherwise it walks
/// the runs of the map, refusing as soon as the next run would pass the budget, and XORs only the
/// changed words into the destination. <see cref="Apply"/> checks every run header first and only
/// then XORs the literals in, so a refused diff leaves the page untouched. Neither allocates.</para>
/// </remarks>
public static class PageDiff
{
    public const int PageSize = GuestMemory.PageSize;

    /// <summary>The unit of the diff: a changed byte costs its whole 8-byte word.</summary>
    public const int WordSize = sizeof(ulong);

    public const int WordsPerPage = PageSize / WordSize;

    /// <summary>
    /// 3 KiB, three quarters of a page: the largest diff <see cref="Encode"/> produces. A larger diff
    /// would save less than a quarter of the page on the wire, while costing the backup a read, XOR
    /// and write of its copy instead of a plain store, and such a busy page is likely to be rewritten
    /// wholesale next time; the whole page is the better message. It is also the buffer the caller
    /// reserves per page.
    /// </summary>
    public const int MaxEncodedLength = PageSize * 3 / 4;

    private const int MapEntries = WordsPerPage / 64;

    /// <summary>
    /// Writes the diff that turns <paramref name="old"/> into <paramref name="current"/> and returns
    /// its length (0 when the pages are equal), or -1 when it would be longer than
    /// <see cref="MaxEncodedLength"/>: then send the page whole. After -1 the contents of
    /// <paramref name="destination"/> are unspecified.
    /// </summary>
    /// <param name="old">The copy the backup holds: the page as last sent, <see cref="PageSize"/> bytes.</param>
    /// <param name="current">The page now, <see cref="PageSize"/> bytes.</param>
    /// <param name="destination">At least <see cref="MaxEncodedLength"/> bytes; nothing past that is written.</param>
    /// <exception cref="ArgumentException">A page is not <see cref="PageSize"/> bytes or the destination is too small.</exception>
    public static int Encode(ReadOnlySpan<byte> old, ReadOnlySpan<byte> current, Span<byte> destination)
    {
        CheckPage(old.Length, nameof(old));
        CheckPage(current.Length, nameof(current));
        if (destination.Length < MaxEncodedLength)
        {
            throw new ArgumentException(
                $"the destination holds {destination.Length} bytes; a diff may need {MaxEncodedLength}", nameof(destination));
        }

        ref var oldBytes = ref MemoryMarshal.GetReference(old);
        ref var currentBytes = ref MemoryMarshal.GetReference(current);
        Span<ulong> changed = stackalloc ulong[MapEntries];
        var changedWords = MapChangedWords(ref oldBytes, ref currentBytes, changed);

        // Every changed word costs its 8 bytes whatever the runs: refuse before writing anything.
        if (changedWords * WordSize > MaxEncodedLength)
        {
            return -1;
        }

        ref var output = ref MemoryMarshal.GetReference(destination);
        ref var map = ref MemoryMarshal.GetReference(changed);
        var length = 0;
        var word = 0;
        var entry = 0;
        // The changed words of map entry `entry` at or after `word`.
        var bits = map;
        while (true)
        {
            while (bits == 0)
            {
                if (++entry == MapEntries)
                {
                    return length;
                }

                bits = Unsafe.Add(ref map, entry);
            }

            var start = (entry << 6) + BitOperations.TrailingZeroCount(bits);
            // The literal ends at the first unchanged word after its start, or at the end of the page.
            var unchanged = ~bits & (ulong.MaxValue << (start & 63));
            while (unchanged == 0 && entry < MapEntries - 1)
            {
                unchanged = ~Unsafe.Add(ref map, ++entry);
            }

            var end = unchanged == 0 ? WordsPerPage : (entry << 6) + BitOperations.TrailingZeroCount(unchanged);
            var zeros = start - word;
            var literal = end - start;
            var literalBytes = literal * WordSize;
            if (length + VarintLength(zeros) + VarintLength(literal) + literalBytes > MaxEncodedLength)
            {
                return -1;
            }

            length = WriteVarint(ref output, length, zeros);
            length = WriteVarint(ref output, length, literal);
            var offset = (nuint)(start * WordSize);
            Xor(ref Unsafe.Add(ref oldBytes, offset), ref Unsafe.Add(ref currentBytes, offset), ref Unsafe.Add(ref output, length), (nuint)literalBytes);
            length += literalBytes;
            if (end == WordsPerPage)
            {
                return length;
            }

            word = end;
            bits = Unsafe.Add(ref map, entry) & (ulong.MaxValue << (end & 63));
        }
    }

    /// <summary>
    /// XORs <paramref name="diff"/> (from <see cref="Encode"/> of this page as last sent and the
    /// page now) into <paramref name="page"/>, which becomes the page now.
    /// </summary>
    /// <exception cref="ArgumentException">The page is not <see cref="PageSize"/> bytes.</exception>
    /// <exception cref="FormatException">The diff is malformed (see the class remarks); the page is unchanged.</exception>
    public static void Apply(Span<byte> page, ReadOnlySpan<byte> diff)
    {
        CheckPage(page.Length, nameof(page));
        // Check every run before the first write, so a bad diff leaves the page as it was; the
        // headers are a few bytes, so the second walk costs little next to the XOR.
        Validate(diff);
        ref var target = ref MemoryMarshal.GetReference(page);
        ref var source = ref MemoryMarshal.GetReference(diff);
        var length = (nuint)diff.Length;
        nuint position = 0;
        nuint word = 0;
        while (position < length)
        {
            // A validated run header is followed by at least 8 literal bytes, so reading two bytes
            // per varint stays inside the diff.
            word += ReadVarint(ref source, ref position);
            var literalBytes = ReadVarint(ref source, ref position) * WordSize;
            ref var words = ref Unsafe.Add(ref target, word * WordSize);
            Xor(ref words, ref Unsafe.Add(ref source, position), ref words, literalBytes);
            word += literalBytes / WordSize;
            position += literalBytes;
        }
    }

    private static void Validate(ReadOnlySpan<byte> diff)
    {
        ref var source = ref MemoryMarshal.GetReference(diff);
        var length = diff.Length;
        var position = 0;
        var word = 0;
        while (position < length)
        {
            // The common case with few branches: a whole run header in hand (a valid run is at least
            // 10 bytes), all checks folded into one flag. Anything odd is re-read by ThrowMalformed,
            // which names what is wrong.
            if (length - position < 4)
            {
                ThrowMalformed(diff, position, word);
            }

            var at = (nuint)position;
            var zeros = (int)ReadVarint(ref source, ref at);
            var zerosEnd = (int)at;
            var literal = (int)ReadVarint(ref source, ref at);
            var header = (int)at;
            var bad = (word == WordsPerPage) | ((zeros == 0) & (word != 0)) | (literal == 0)
                | ((uint)(zeros + literal) > (uint)(WordsPerPage - word))
                | (literal * WordSize > length - header)
                | NotCanonical(ref source, position, zerosEnd) | NotCanonical(ref source, zerosEnd, header);
            if (bad)
            {
                ThrowMalformed(diff, position, word);
            }

            position = header + literal * WordSize;
            word += zeros + literal;
        }
    }

    /// <summary>A two-byte varint from <paramref name="start"/> to <paramref name="end"/> whose second byte is 0 (overlong) or has the high bit (a third byte).</summary>
    private static bool NotCanonical(ref byte source, int start, int end) =>
        (end - start == 2) & ((uint)Unsafe.Add(ref source, start + 1) - 1 >= 0x7F);

    [DoesNotReturn]
    private static void ThrowMalformed(ReadOnlySpan<byte> diff, int position, int word)
    {
        CheckRun(diff, ref position, ref word);
        throw Malformed(position, "unexpected run (internal error)");
    }

    /// <summary>Checks the run at <paramref name="position"/> and steps over it, or throws a <see cref="FormatException"/> saying what is wrong.</summary>
    private static void CheckRun(ReadOnlySpan<byte> diff, ref int position, ref int word)
    {
        var runStart = position;
        if (word == WordsPerPage)
        {
            throw Malformed(runStart, $"{diff.Length - runStart} bytes follow the run that reaches the end of the page");
        }

        var zeros = ReadRunLength(diff, ref position, "zero run");
        if (zeros == 0 && word != 0)
        {
            throw Malformed(runStart, "a zero run of 0 words after a literal (adjacent literals are one run)");
        }

        var literal = ReadRunLength(diff, ref position, "literal");
        if (literal == 0)
        {
            throw Malformed(runStart, "a literal of 0 words");
        }

        if (zeros + literal > WordsPerPage - word)
        {
            throw Malformed(runStart,
                $"{zeros} unchanged and {literal} changed words from word {word} run past the end of the page ({WordsPerPage} words)");
        }

        var literalBytes = literal * WordSize;
        if (literalBytes > diff.Length - position)
        {
            throw Malformed(position, $"a literal of {literal} words needs {literalBytes} bytes, {diff.Length - position} are left");
        }

        word += zeros + literal;
        position += literalBytes;
    }

    private static int ReadRunLength(ReadOnlySpan<byte> diff, ref int position, string what)
    {
        if (position == diff.Length)
        {
            throw Malformed(position, $"the diff ends before the {what} length");
        }

        int first = diff[position++];
        if (first < 0x80)
        {
            return first;
        }

        if (position == diff.Length)
        {
            throw Malformed(position, $"the diff ends inside the {what} length");
        }

        int second = diff[position++];
        if (second >= 0x80)
        {
            throw Malformed(position - 2, $"a {what} length of more than two bytes (no run is longer than {WordsPerPage} words)");
        }

        if (second == 0)
        {
            throw Malformed(position - 2, $"an overlong {what} length (a two-byte varint ending in 0)");
        }

        var value = (first & 0x7F) | (second << 7);
        if (value > WordsPerPage)
        {
            throw Malformed(position - 2, $"a {what} of {value} words, longer than the page ({WordsPerPage} words)");
        }

        return value;
    }

    private static FormatException Malformed(int position, string reason) =>
        new($"malformed page diff at byte {position}: {reason}");

    private static void CheckPage(int length, string name)
    {
        if (length != PageSize)
        {
            throw new ArgumentException($"{name} is {length} bytes; a page is {PageSize}", name);
        }
    }

    /// <summary>Sets bit <c>i</c> of <paramref name="changed"/> when word <c>i</c> differs; returns how many do.</summary>
    private static int MapChangedWords(ref byte old, ref byte current, Span<ulong> changed)
    {
        var count = 0;
        for (var entry = 0; entry < MapEntries; entry++)
        {
            // Each map entry covers 64 words, 512 bytes.
            ref var oldPart = ref Unsafe.Add(ref old, entry * 64 * WordSize);
            ref var currentPart = ref Unsafe.Add(ref current, entry * 64 * WordSize);
            var bits = Vector256.IsHardwareAccelerated ? Map256(ref oldPart, ref currentPart)
                : Vector128.IsHardwareAccelerated ? Map128(ref oldPart, ref currentPart)
                : MapScalar(ref oldPart, ref currentPart);
            changed[entry] = bits;
            count += BitOperations.PopCount(bits);
        }

        return count;
    }

    private static ulong Map256(ref byte old, ref byte current)
    {
        var bits = 0UL;
        // 128 bytes (16 words) a step; a step with no change costs one test.
        for (nuint offset = 0; offset < 64 * WordSize; offset += 128)
        {
            var x0 = Vector256.LoadUnsafe(ref old, offset) ^ Vector256.LoadUnsafe(ref current, offset);
            var x1 = Vector256.LoadUnsafe(ref old, offset + 32) ^ Vector256.LoadUnsafe(ref current, offset + 32);
            var x2 = Vector256.LoadUnsafe(ref old, offset + 64) ^ Vector256.LoadUnsafe(ref current, offset + 64);
            var x3 = Vector256.LoadUnsafe(ref old, offset + 96) ^ Vector256.LoadUnsafe(ref current, offset + 96);
            if (((x0 | x1) | (x2 | x3)) == Vector256<byte>.Zero)
            {
                continue;
            }

            var step = Changed(x0) | (Changed(x1) << 4) | (Changed(x2) << 8) | (Changed(x3) << 12);
            bits |= (ulong)step << (int)(offset / WordSize);
        }

        return bits;

        static uint Changed(Vector256<byte> xor) =>
            ~Vector256.Equals(xor.AsUInt64(), Vector256<ulong>.Zero).ExtractMostSignificantBits() & 0xF;
    }

    private static ulong Map128(ref byte old, ref byte current)
    {
        var bits = 0UL;
        for (nuint offset = 0; offset < 64 * WordSize; offset += 64)
        {
            var x0 = Vector128.LoadUnsafe(ref old, offset) ^ Vector128.LoadUnsafe(ref current, offset);
            var x1 = Vector128.LoadUnsafe(ref old, offset + 16) ^ Vector128.LoadUnsafe(ref current, offset + 16);
            var x2 = Vector128.LoadUnsafe(ref old, offset + 32) ^ Vector128.LoadUnsafe(ref current, offset + 32);
            var x3 = Vector128.LoadUnsafe(ref old, offset + 48) ^ Vector128.LoadUnsafe(ref current, offset + 48);
            if (((x0 | x1) | (x2 | x3)) == Vector128<byte>.Zero)
            {
                continue;
            }

            var step = Changed(x0) | (Changed(x1) << 2) | (Changed(x2) << 4) | (Changed(x3) << 6);
            bits |= (ulong)step << (int)(offset / WordSize);
        }

        return bits;

        static uint Changed(Vector128<byte> xor) =>
            ~Vector128.Equals(xor.AsUInt64(), Vector128<ulong>.Zero).ExtractMostSignificantBits() & 0x3;
    }

    private static ulong MapScalar(ref byte old, ref byte current)
    {
        var bits = 0UL;
        for (var word = 0; word < 64; word++)
        {
            var offset = (nuint)(word * WordSize);
            if (Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref old, offset)) != Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref current, offset)))
            {
                bits |= 1UL << word;
            }
        }

        return bits;
    }

    private static int VarintLength(int value) => value < 0x80 ? 1 : 2;

    /// <summary>
    /// Writes a run length of at most <see cref="WordsPerPage"/>. Always stores two bytes, so there
    /// is no branch on the length; the second is overwritten by what follows when the varint is one
    /// byte, and a literal (at least 8 bytes, inside the budget) always follows.
    /// </summary>
    private static int WriteVarint(ref byte output, int position, int value)
    {
        var more = value >= 0x80 ? 1 : 0;
        Unsafe.Add(ref output, position) = (byte)(value | (more << 7));
        Unsafe.Add(ref output, position + 1) = (byte)(value >> 7);
        return position + 1 + more;
    }

    /// <summary>Reads a run length that <see cref="Validate"/> has checked.</summary>
    private static nuint ReadVarint(ref byte source, ref nuint position)
    {
        // A branch rather than arithmetic: the branch is predicted, and the prediction lets the
        // processor start on the next run before this length is loaded.
        nuint value = Unsafe.Add(ref source, position++);
        if (value >= 0x80)
        {
            value = (value & 0x7F) | ((nuint)Unsafe.Add(ref source, position++) << 7);
        }

        return value;
    }

    /// <summary>
    /// <paramref name="destination"/> = <paramref name="a"/> ^ <paramref name="b"/> for <paramref name="bytes"/>
    /// bytes, a multiple of 8 and at least 8; <paramref name="destination"/> may be <paramref name="a"/>.
    /// </summary>
    private static void Xor(ref byte a, ref byte b, ref byte destination, nuint bytes)
    {
        // Whole vectors, and one last vector that ends at the end and may overlap the one before:
        // no scalar tail, so the branches depend on little more than whether the run is short. The
        // last vector is computed before the loop stores anything, so writing in place stays right.
        if (Vector256.IsHardwareAccelerated && bytes >= 32)
        {
            var last = Vector256.LoadUnsafe(ref a, bytes - 32) ^ Vector256.LoadUnsafe(ref b, bytes - 32);
            for (nuint i = 0; i < bytes - 32; i += 32)
            {
                (Vector256.LoadUnsafe(ref a, i) ^ Vector256.LoadUnsafe(ref b, i)).StoreUnsafe(ref destination, i);
            }

            last.StoreUnsafe(ref destination, bytes - 32);
            return;
        }

        if (Vector128.IsHardwareAccelerated && bytes >= 16)
        {
            var last = Vector128.LoadUnsafe(ref a, bytes - 16) ^ Vector128.LoadUnsafe(ref b, bytes - 16);
            for (nuint i = 0; i < bytes - 16; i += 16)
            {
                (Vector128.LoadUnsafe(ref a, i) ^ Vector128.LoadUnsafe(ref b, i)).StoreUnsafe(ref destination, i);
            }

            last.StoreUnsafe(ref destination, bytes - 16);
            return;
        }

        for (nuint i = 0; i < bytes; i += WordSize)
        {
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref destination, i),
                Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref a, i)) ^ Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref b, i)));
        }
    }
}
