using System.Diagnostics;
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
/// page with its zero runs left out. A page whose diff would be longer than
/// <see cref="MaxEncodedLength"/> is refused (<see cref="Encode"/> returns -1) and the caller sends
/// it whole.
/// </summary>
/// <remarks>
/// <para><b>Format.</b> The page is 512 words of 8 bytes; word <c>i</c> of the XOR is
/// <c>old[8i..8i+8] ^ current[8i..8i+8]</c>. A run is a stretch of unchanged words (XOR zero)
/// followed by a literal: a stretch of changed words. A diff is</para>
/// <code>
/// run count      varint             n, 0 to 256
/// n run headers  varint, varint     unchanged words skipped, then changed words (at least 1)
/// literal bytes  8 × Σ literals     the XOR of the changed words, run after run, in page order
/// </code>
/// <para>Varints are unsigned LEB128 (7 bits a byte, low bits first, high bit set when a byte
/// follows); no value is above 512, so a varint is one byte below 128 and two bytes otherwise, and
/// a two-byte varint never ends in a zero byte. Unchanged words after the last literal are implied,
/// so an unchanged page is the single byte <c>00</c>, and a change of one 64-byte stretch costs
/// 3 or 4 header bytes and 64 or 72 literal bytes. The literal bytes are in page order, so the
/// format does not depend on the byte order of either machine. The headers come first so that a
/// reader finds the next header without waiting for the length of the literal before it.</para>
/// <para>The encoding is canonical: every literal is a maximal stretch of changed words, so only the
/// first zero run may be 0 and there are at most 256 runs. <see cref="Apply"/> accepts only canonical
/// diffs: an empty diff, a count above 256, a literal of 0 words, a zero run of 0 after the first
/// run, an overlong or three-byte varint, runs past word 512, and literal bytes short of or beyond
/// what the headers add up to are a <see cref="FormatException"/> naming the byte.</para>
/// <para><b>Cost.</b> <see cref="Encode"/> compares the two pages 32 bytes at a time into a 512-bit
/// map of changed words (an unchanged 128-byte stretch costs one test). A diff holds 8 bytes per
/// changed word and at least 2 header bytes per run, so a page over budget by that count (a page
/// rewritten wholesale: more than <c>MaxEncodedLength / 8</c> changed words) is refused right there,
/// before anything is written. Otherwise the headers are written straight off the map (each value is
/// the distance between two consecutive places where the map flips), which gives the exact length,
/// and a page still over budget is refused before any literal is written. Only then are the changed
/// words XORed into the destination, literal by literal. <see cref="Apply"/> checks the whole diff
/// first and only then XORs the literals in, so a refused diff leaves the page untouched. Neither
/// allocates.</para>
/// </remarks>
public static class PageDiff
{
    public const int PageSize = GuestMemory.PageSize;

    /// <summary>The unit of the diff: a changed byte costs its whole 8-byte word.</summary>
    public const int WordSize = sizeof(ulong);

    public const int WordsPerPage = PageSize / WordSize;

    /// <summary>
    /// Runs in a diff at most: every run but the first starts with at least one unchanged word and
    /// every run has at least one changed word.
    /// </summary>
    public const int MaxRuns = WordsPerPage / 2;

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
    /// its length (1 when the pages are equal), or -1 when it would be longer than
    /// <see cref="MaxEncodedLength"/>: then send the page whole. A refusal writes at most the run
    /// headers, and nothing when the page is over budget by its change count alone.
    /// </summary>
    /// <param name="old">The copy the backup holds: the page as last sent, <see cref="PageSize"/> bytes.</param>
    /// <param name="current">The page now, <see cref="PageSize"/> bytes.</param>
    /// <param name="destination">At least <see cref="MaxEncodedLength"/> bytes; nothing past that is
    /// written, and the bytes between the returned length and that are unspecified.</param>
    /// <exception cref="ArgumentException">A page is not <see cref="PageSize"/> bytes or the destination is too small.</exception>
    [SkipLocalsInit]
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

        // Every changed word costs its 8 bytes whatever the runs: a page rewritten wholesale stops here.
        var literalBytes = changedWords * WordSize;
        if (literalBytes > MaxEncodedLength)
        {
            return -1;
        }

        // The runs, off the map. A transition is a changed word after an unchanged one (a literal
        // starts) or an unchanged word after a changed one (it ends); they alternate, and each header
        // value is the distance from the transition before (the first from word 0), so the headers
        // are written in one pass over the transitions, and the end of the page closes a literal
        // that reaches it.
        Span<ulong> transitions = stackalloc ulong[MapEntries];
        var transitionCount = 0;
        var carry = 0UL;
        for (var entry = 0; entry < MapEntries; entry++)
        {
            var bits = changed[entry];
            transitions[entry] = bits ^ ((bits << 1) | carry);
            carry = bits >> 63;
            transitionCount += BitOperations.PopCount(transitions[entry]);
        }

        var runs = (transitionCount + (int)carry) / 2;
        if (VarintLength(runs) + 2 * runs + literalBytes > MaxEncodedLength)
        {
            return -1;
        }

        ref var output = ref MemoryMarshal.GetReference(destination);
        Span<ushort> positions = stackalloc ushort[2 * MaxRuns];
        var position = WriteVarint(ref output, 0, runs);
        var count = 0;
        var last = 0;
        for (var entry = 0; entry < MapEntries; entry++)
        {
            for (var bits = transitions[entry]; bits != 0; bits &= bits - 1)
            {
                var word = (entry << 6) + BitOperations.TrailingZeroCount(bits);
                position = WriteVarint(ref output, position, word - last);
                positions[count++] = (ushort)word;
                last = word;
            }
        }

        if (carry != 0)
        {
            position = WriteVarint(ref output, position, WordsPerPage - last);
            positions[count++] = WordsPerPage;
        }

        Debug.Assert(count == 2 * runs, "transitions alternate, and a literal that reaches the end of the page ends there");
        var headerLength = position;
        if (headerLength + literalBytes > MaxEncodedLength)
        {
            return -1;
        }

        // Literals after all the headers: WriteVarint may have stored a spare byte at headerLength.
        nuint literalAt = (nuint)headerLength;
        for (var run = 0; run < count; run += 2)
        {
            var offset = (nuint)positions[run] * WordSize;
            var bytes = (nuint)(positions[run + 1] - positions[run]) * WordSize;
            Xor(ref Unsafe.Add(ref oldBytes, offset), ref Unsafe.Add(ref currentBytes, offset), ref Unsafe.Add(ref output, literalAt), bytes);
            literalAt += bytes;
        }

        return headerLength + literalBytes;
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
        // Check the whole diff before the first write, so a bad one leaves the page as it was.
        var (runs, headerStart, literalStart) = Validate(diff);

        ref var target = ref MemoryMarshal.GetReference(page);
        ref var source = ref MemoryMarshal.GetReference(diff);
        var position = (nuint)headerStart;
        var literalAt = (nuint)literalStart;
        nuint word = 0;
        for (var run = 0; run < runs; run++)
        {
            word += ReadVarint(ref source, ref position);
            var literal = ReadVarint(ref source, ref position);
            ref var words = ref Unsafe.Add(ref target, word * WordSize);
            Xor(ref words, ref Unsafe.Add(ref source, literalAt), ref words, literal * WordSize);
            word += literal;
            literalAt += literal * WordSize;
        }
    }

    /// <summary>The run count, where the headers start and where the literal bytes start, or a <see cref="FormatException"/>.</summary>
    private static (int Runs, int HeaderStart, int LiteralStart) Validate(ReadOnlySpan<byte> diff)
    {
        // The common case with few branches: all checks of a run folded into one flag, and no bounds
        // checks while reading headers, since a run takes at most 4 header bytes and a valid diff
        // holds at least 10 bytes a run. Anything odd is read again by ThrowMalformed, which names
        // what is wrong.
        var length = diff.Length;
        if (length < 2)
        {
            if (length == 1 && diff[0] == 0)
            {
                return (0, 1, 1);
            }

            ThrowMalformed(diff);
        }

        ref var source = ref MemoryMarshal.GetReference(diff);
        nuint position = 0;
        var runs = (int)ReadVarint(ref source, ref position);
        var headerStart = (int)position;
        if (NotCanonical(ref source, 0, headerStart) | (runs > MaxRuns) || length - headerStart < 4 * runs)
        {
            ThrowMalformed(diff);
        }

        var word = 0;
        var literalWords = 0;
        var bad = false;
        for (var run = 0; run < runs; run++)
        {
            var at = (int)position;
            var zeros = (int)ReadVarint(ref source, ref position);
            var middle = (int)position;
            var literal = (int)ReadVarint(ref source, ref position);
            bad |= ((zeros == 0) & (run != 0)) | (literal == 0)
                | ((uint)(zeros + literal) > (uint)(WordsPerPage - word))
                | NotCanonical(ref source, at, middle) | NotCanonical(ref source, middle, (int)position);
            word += zeros + literal;
            literalWords += literal;
        }

        // Exactly the literal bytes the headers add up to. Even in a bad diff no value is above
        // 16,383 and there are at most 256 runs, so the sums cannot overflow.
        if (bad || length - (int)position != literalWords * WordSize)
        {
            ThrowMalformed(diff);
        }

        return (runs, headerStart, (int)position);
    }

    /// <summary>Reads a run length or count without bounds checks; the caller knows the bytes are there.</summary>
    private static nuint ReadVarint(ref byte source, ref nuint position)
    {
        // A branch rather than arithmetic: it is well predicted, and the prediction lets the
        // processor go on to the next header before this one is loaded.
        nuint value = Unsafe.Add(ref source, position++);
        if (value >= 0x80)
        {
            value = (value & 0x7F) | ((nuint)Unsafe.Add(ref source, position++) << 7);
        }

        return value;
    }

    /// <summary>A two-byte varint from <paramref name="start"/> to <paramref name="end"/> whose second byte is 0 (overlong) or has the high bit (a third byte).</summary>
    private static bool NotCanonical(ref byte source, int start, int end) =>
        (end - start == 2) & ((uint)Unsafe.Add(ref source, start + 1) - 1 >= 0x7F);

    /// <summary>Reads the diff again with every check in order and throws for the first violation.</summary>
    [DoesNotReturn]
    private static void ThrowMalformed(ReadOnlySpan<byte> diff)
    {
        if (diff.IsEmpty)
        {
            throw Malformed(0, "the diff is empty; an unchanged page is the single byte 00");
        }

        var position = 0;
        var runs = ReadRunLength(diff, ref position, "run count");
        if (runs > MaxRuns)
        {
            throw Malformed(0, $"a run count of {runs}; a page has at most {MaxRuns} runs");
        }

        var word = 0;
        var literalWords = 0;
        for (var run = 0; run < runs; run++)
        {
            var runStart = position;
            var zeros = ReadRunLength(diff, ref position, $"zero run of run {run + 1} of {runs}");
            if (zeros == 0 && run != 0)
            {
                throw Malformed(runStart, $"a zero run of 0 words in run {run + 1} (adjacent literals are one run)");
            }

            var literal = ReadRunLength(diff, ref position, $"literal of run {run + 1} of {runs}");
            if (literal == 0)
            {
                throw Malformed(runStart, $"a literal of 0 words in run {run + 1}");
            }

            if (zeros + literal > WordsPerPage - word)
            {
                throw Malformed(runStart,
                    $"run {run + 1}: {zeros} unchanged and {literal} changed words from word {word} run past the end of the page ({WordsPerPage} words)");
            }

            word += zeros + literal;
            literalWords += literal;
        }

        var literalBytes = literalWords * WordSize;
        var present = diff.Length - position;
        if (present < literalBytes)
        {
            throw Malformed(diff.Length, $"the literals need {literalBytes} bytes after the headers, {present} are there");
        }

        if (present > literalBytes)
        {
            throw Malformed(position + literalBytes, $"{present - literalBytes} bytes after the end of the diff (the headers and their literals)");
        }

        throw new InvalidOperationException("a page diff was refused but every check passes");
    }

    private static int ReadRunLength(ReadOnlySpan<byte> diff, ref int position, string what)
    {
        if (position == diff.Length)
        {
            throw Malformed(position, $"the diff ends before the {what}");
        }

        int first = diff[position++];
        if (first < 0x80)
        {
            return first;
        }

        if (position == diff.Length)
        {
            throw Malformed(position, $"the diff ends inside the {what}");
        }

        int second = diff[position++];
        if (second >= 0x80)
        {
            throw Malformed(position - 2, $"the {what} is a varint of more than two bytes (no value is above {WordsPerPage})");
        }

        if (second == 0)
        {
            throw Malformed(position - 2, $"the {what} is an overlong varint (a two-byte varint ending in 0)");
        }

        var value = (first & 0x7F) | (second << 7);
        if (value > WordsPerPage)
        {
            throw Malformed(position - 2, $"the {what} is {value}, above {WordsPerPage}, the words in a page");
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
            var offset = (nuint)entry * 64 * WordSize;
            var bits = Vector256.IsHardwareAccelerated ? Map256(ref old, ref current, offset)
                : Vector128.IsHardwareAccelerated ? Map128(ref old, ref current, offset)
                : MapScalar(ref old, ref current, offset);
            changed[entry] = bits;
            count += BitOperations.PopCount(bits);
        }

        return count;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Map256(ref byte old, ref byte current, nuint start)
    {
        var bits = 0UL;
        // 128 bytes (16 words) a step; a step with no change costs one test.
        for (nuint step = 0; step < 64 * WordSize; step += 128)
        {
            var offset = start + step;
            var x0 = Vector256.LoadUnsafe(ref old, offset) ^ Vector256.LoadUnsafe(ref current, offset);
            var x1 = Vector256.LoadUnsafe(ref old, offset + 32) ^ Vector256.LoadUnsafe(ref current, offset + 32);
            var x2 = Vector256.LoadUnsafe(ref old, offset + 64) ^ Vector256.LoadUnsafe(ref current, offset + 64);
            var x3 = Vector256.LoadUnsafe(ref old, offset + 96) ^ Vector256.LoadUnsafe(ref current, offset + 96);
            if (((x0 | x1) | (x2 | x3)) == Vector256<byte>.Zero)
            {
                continue;
            }

            var changed = Changed(x0) | (Changed(x1) << 4) | (Changed(x2) << 8) | (Changed(x3) << 12);
            bits |= (ulong)changed << (int)(step / WordSize);
        }

        return bits;

        static uint Changed(Vector256<byte> xor) =>
            ~Vector256.Equals(xor.AsUInt64(), Vector256<ulong>.Zero).ExtractMostSignificantBits() & 0xF;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Map128(ref byte old, ref byte current, nuint start)
    {
        var bits = 0UL;
        for (nuint step = 0; step < 64 * WordSize; step += 64)
        {
            var offset = start + step;
            var x0 = Vector128.LoadUnsafe(ref old, offset) ^ Vector128.LoadUnsafe(ref current, offset);
            var x1 = Vector128.LoadUnsafe(ref old, offset + 16) ^ Vector128.LoadUnsafe(ref current, offset + 16);
            var x2 = Vector128.LoadUnsafe(ref old, offset + 32) ^ Vector128.LoadUnsafe(ref current, offset + 32);
            var x3 = Vector128.LoadUnsafe(ref old, offset + 48) ^ Vector128.LoadUnsafe(ref current, offset + 48);
            if (((x0 | x1) | (x2 | x3)) == Vector128<byte>.Zero)
            {
                continue;
            }

            var changed = Changed(x0) | (Changed(x1) << 2) | (Changed(x2) << 4) | (Changed(x3) << 6);
            bits |= (ulong)changed << (int)(step / WordSize);
        }

        return bits;

        static uint Changed(Vector128<byte> xor) =>
            ~Vector128.Equals(xor.AsUInt64(), Vector128<ulong>.Zero).ExtractMostSignificantBits() & 0x3;
    }

    private static ulong MapScalar(ref byte old, ref byte current, nuint start)
    {
        var bits = 0UL;
        for (var word = 0; word < 64; word++)
        {
            var offset = start + (nuint)(word * WordSize);
            if (Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref old, offset)) != Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref current, offset)))
            {
                bits |= 1UL << word;
            }
        }

        return bits;
    }

    /// <summary>1 or 2, without a branch, for values up to 1,151.</summary>
    private static int VarintLength(int value) => 1 + ((value + 0x380) >> 10);

    /// <summary>
    /// Writes a value of at most 512. Always stores two bytes, so there is no branch on the
    /// length; when the varint is one byte the spare is overwritten by what follows (the next header
    /// or, after the last header, the literals), or lies past the end of an unchanged page's diff.
    /// </summary>
    private static int WriteVarint(ref byte output, int position, int value)
    {
        var more = VarintLength(value) - 1;
        Unsafe.Add(ref output, position) = (byte)(value | (more << 7));
        Unsafe.Add(ref output, position + 1) = (byte)(value >> 7);
        return position + 1 + more;
    }

    /// <summary>
    /// <paramref name="destination"/> = <paramref name="a"/> ^ <paramref name="b"/> for <paramref name="bytes"/>
    /// bytes, a multiple of 8 and at least 8; <paramref name="destination"/> may be <paramref name="a"/>.
    /// </summary>
    private static void Xor(ref byte a, ref byte b, ref byte destination, nuint bytes)
    {
        // Whole vectors, and one last vector that ends at the end and may overlap the one before:
        // no scalar tail. The last vector is computed before the loop stores anything, so writing in
        // place stays right.
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
