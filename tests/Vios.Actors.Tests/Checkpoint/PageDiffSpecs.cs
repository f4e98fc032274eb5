using CsCheck;
using Vios.Actors.Checkpoint;

namespace Vios.Actors.Tests.Checkpoint;

/// <summary>
/// S23 page diffs: <c>Apply(old, Encode(old, new)) == new</c>, the encoding is exactly the one a naive
/// word-by-word encoder writes (or a refusal when that one is over budget), and a malformed diff is a
/// <see cref="FormatException"/> that leaves the page as it was and writes nothing outside it.
/// </summary>
public sealed class PageDiffSpecs
{
    private const int PageSize = PageDiff.PageSize;
    private const int Words = PageDiff.WordsPerPage;
    private const int Guard = 64;

    /// <summary>A guest write: some bytes at some offset.</summary>
    private static readonly Gen<(int Offset, byte[] Data)> Write =
        Gen.Select(Gen.Int[0, PageSize - 1], Gen.Byte.Array[1, 256])
            .Select((offset, data) => (Math.Min(offset, PageSize - data.Length), data));

    private static readonly Gen<byte[]> Page = Gen.Byte.Array[PageSize];

    [Fact]
    public void Sparse_modifications_round_trip_and_encode_as_the_reference_encoder_does()
    {
        // At most 8 writes of 256 bytes touch at most 264 words: always inside the budget.
        Gen.Select(Page, Write.Array[1, 8]).Sample((old, writes) =>
        {
            var current = Modified(old, writes);
            var diff = EncodeGuarded(old, current);

            Assert.NotNull(diff);
            Assert.Equal(Reference.Encode(old, current), diff);
            AssertApplies(old, diff, current);
        }, iter: 2000);
    }

    [Fact]
    public void Heavy_modifications_encode_as_the_reference_encoder_does_or_are_refused_exactly_when_it_is_over_budget()
    {
        int encoded = 0, refused = 0;
        Gen.Select(Page, Write.Array[1, 64]).Sample((old, writes) =>
        {
            var current = Modified(old, writes);
            var reference = Reference.Encode(old, current);
            var diff = EncodeGuarded(old, current);

            if (reference.Length <= PageDiff.MaxEncodedLength)
            {
                Assert.Equal(reference, diff);
                AssertApplies(old, diff!, current);
                Interlocked.Increment(ref encoded);
            }
            else
            {
                Assert.Null(diff);
                Interlocked.Increment(ref refused);
            }
        }, iter: 1000);

        // The generator must reach both sides of the budget.
        Assert.True(encoded > 50, $"only {encoded} pages encoded");
        Assert.True(refused > 50, $"only {refused} pages refused");
    }

    [Fact]
    public void Change_maps_near_the_budget_are_encoded_exactly_when_the_reference_encoding_fits()
    {
        // 300 to 700 draws of the 512 words, about 230 to 380 distinct changed words: both sides of the
        // budget (at most 384 literal words, fewer the more runs there are).
        int encoded = 0, refused = 0;
        Gen.Select(Page, Gen.Int[0, Words - 1].Array[300, 700], Gen.ULong).Sample((old, words, flip) =>
        {
            var current = (byte[])old.Clone();
            foreach (var word in words)
            {
                // Any nonzero XOR marks the word changed; vary which byte of the word changes.
                var at = word * 8 + (int)(flip % 8);
                current[at] = (byte)(old[at] ^ (byte)(1 + (flip >> 8) % 255));
            }

            var reference = Reference.Encode(old, current);
            var diff = EncodeGuarded(old, current);
            if (reference.Length <= PageDiff.MaxEncodedLength)
            {
                Assert.Equal(reference, diff);
                AssertApplies(old, diff!, current);
                Interlocked.Increment(ref encoded);
            }
            else
            {
                Assert.Null(diff);
                Interlocked.Increment(ref refused);
            }
        }, iter: 1000);

        Assert.True(encoded > 20, $"only {encoded} pages encoded");
        Assert.True(refused > 20, $"only {refused} pages refused");
    }

    [Fact]
    public void An_unchanged_page_is_the_one_byte_diff_00_and_applying_it_changes_nothing()
    {
        Page.Sample(old =>
        {
            var diff = EncodeGuarded(old, (byte[])old.Clone());

            Assert.Equal([0], diff);
            AssertApplies(old, diff!, old);
        }, iter: 200);
    }

    [Fact]
    public void A_page_with_every_other_byte_changed_is_refused_without_writing_anything()
    {
        Page.Sample(old =>
        {
            var current = (byte[])old.Clone();
            for (var i = 0; i < PageSize; i += 2)
            {
                current[i] ^= 0x5A;
            }

            AssertRefusedWithoutWriting(old, current);
        }, iter: 100);
    }

    [Fact]
    public void A_page_rewritten_with_random_bytes_is_refused_without_writing_anything()
    {
        Gen.Select(Page, Page).Sample(AssertRefusedWithoutWriting, iter: 200);
    }

    [Fact]
    public void Every_other_word_changed_is_256_runs_inside_the_budget()
    {
        var old = new byte[PageSize];
        var current = new byte[PageSize];
        for (var word = 1; word < Words; word += 2)
        {
            current[word * 8 + 3] = 0xFF;
        }

        var diff = EncodeGuarded(old, current);

        // A two-byte count of 256, 256 headers (1, 1) and 256 literal words.
        Assert.Equal(2 + 256 * 2 + 256 * 8, diff!.Length);
        Assert.Equal([0x80, 0x02, 1, 1, 1, 1], diff[..6]);
        AssertApplies(old, diff, current);
    }

    [Fact]
    public void Changes_in_the_first_and_the_last_byte_of_the_page_are_the_first_and_the_last_word()
    {
        var old = new byte[PageSize];
        new Random(1).NextBytes(old);

        var first = (byte[])old.Clone();
        first[0] ^= 0x81;
        Assert.Equal([1, 0, 1, 0x81, 0, 0, 0, 0, 0, 0, 0], EncodeGuarded(old, first));
        AssertApplies(old, EncodeGuarded(old, first)!, first);

        var last = (byte[])old.Clone();
        last[PageSize - 1] ^= 0x42;
        // 511 unchanged words: varint 0xFF 0x03.
        Assert.Equal([1, 0xFF, 0x03, 1, 0, 0, 0, 0, 0, 0, 0, 0x42], EncodeGuarded(old, last));
        AssertApplies(old, EncodeGuarded(old, last)!, last);

        var both = (byte[])first.Clone();
        both[PageSize - 1] ^= 0x42;
        // 510 unchanged words between the two: varint 0xFE 0x03; headers first, then both literals.
        Assert.Equal([2, 0, 1, 0xFE, 0x03, 1, 0x81, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42], EncodeGuarded(old, both));
        AssertApplies(old, EncodeGuarded(old, both)!, both);

        var whole = (byte[])old.Clone();
        whole[0] ^= 1;
        whole[7] ^= 1;
        whole[PageSize - 8] ^= 1;
        whole[PageSize - 1] ^= 1;
        AssertApplies(old, EncodeGuarded(old, whole)!, whole);
    }

    [Fact]
    public void A_diff_of_exactly_the_budget_is_encoded_and_one_more_changed_word_is_refused()
    {
        // Literals of 255 words from word 0 and of 128 words after 128 unchanged: count 1 byte,
        // headers (0, 255) and (128, 128) 1 + 2 + 2 + 2 bytes, literals 383 × 8 bytes: 3,072.
        var old = new byte[PageSize];
        var current = new byte[PageSize];
        current.AsSpan(0, 255 * 8).Fill(1);
        current.AsSpan((255 + 128) * 8, 128 * 8).Fill(1);

        var diff = EncodeGuarded(old, current);
        Assert.Equal(PageDiff.MaxEncodedLength, diff!.Length);
        Assert.Equal([2, 0, 0xFF, 0x01, 0x80, 0x01, 0x80, 0x01], diff[..8]);
        AssertApplies(old, diff, current);

        // The last word of the page joins the second literal: 8 bytes more, and 384 changed words
        // with two runs cannot fit whatever their headers, so nothing is written.
        current[PageSize - 1] = 1;
        AssertRefusedWithoutWriting(old, current);
    }

    [Fact]
    public void A_page_over_budget_only_by_its_two_byte_headers_is_refused()
    {
        // Literals of 254, 128 and 1 words with one unchanged word between them: 383 × 8 literal
        // bytes and 7 header bytes at the least (3,072 with the count), but 254 and 128 take two
        // bytes each: 3,073.
        var old = new byte[PageSize];
        var current = new byte[PageSize];
        current.AsSpan(0, 254 * 8).Fill(3);
        current.AsSpan(255 * 8, 128 * 8).Fill(3);
        current[384 * 8] = 3;
        Assert.Equal(PageDiff.MaxEncodedLength + 1, Reference.Encode(old, current).Length);

        Assert.Null(EncodeGuarded(old, current));

        // One word fewer in the first literal and it fits.
        current.AsSpan(253 * 8, 8).Clear();
        Assert.Equal(PageDiff.MaxEncodedLength - 7, EncodeGuarded(old, current)!.Length);
    }

    [Fact]
    public void One_literal_of_383_words_fits_and_of_384_words_is_refused()
    {
        var old = new byte[PageSize];
        var current = new byte[PageSize];
        current.AsSpan(0, 383 * 8).Fill(7);
        Assert.Equal(1 + 1 + 2 + 383 * 8, EncodeGuarded(old, current)!.Length);

        // 384 changed words are 3,072 literal bytes, inside the budget alone; with the headers they are not.
        current.AsSpan(0, 384 * 8).Fill(7);
        Assert.Null(EncodeGuarded(old, current));
    }

    [Fact]
    public void Encode_and_apply_allocate_nothing()
    {
        var old = new byte[PageSize];
        var current = new byte[PageSize];
        new Random(2).NextBytes(current.AsSpan(100, 64));
        var destination = new byte[PageDiff.MaxEncodedLength];
        var backup = new byte[PageSize];
        var length = PageDiff.Encode(old, current, destination);
        PageDiff.Apply(backup, destination.AsSpan(0, length));

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            length = PageDiff.Encode(old, current, destination);
            PageDiff.Apply(backup, destination.AsSpan(0, length));
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Wrong_sizes_are_argument_errors()
    {
        var page = new byte[PageSize];
        Assert.Throws<ArgumentException>("old", () => PageDiff.Encode(new byte[PageSize - 1], page, new byte[PageDiff.MaxEncodedLength]));
        Assert.Throws<ArgumentException>("current", () => PageDiff.Encode(page, new byte[PageSize + 8], new byte[PageDiff.MaxEncodedLength]));
        Assert.Throws<ArgumentException>("destination", () => PageDiff.Encode(page, page, new byte[PageDiff.MaxEncodedLength - 1]));
        Assert.Throws<ArgumentException>("page", () => PageDiff.Apply(new byte[PageSize * 2], []));
    }

    public static TheoryData<string, byte[]> MalformedDiffs => new()
    {
        { "an empty diff", [] },
        { "a run count of 257", [0x81, 0x02, .. Runs(257)] },
        { "an overlong run count", [0x80, 0x00] },
        { "a byte after an unchanged page", [0, 0] },
        { "a zero run of 513 words", [1, 0x81, 0x04, 1, .. Ones(8)] },
        { "a literal of 513 words", [1, 0, 0x81, 0x04, .. Ones(513 * 8)] },
        { "a zero run and a literal past word 512", [1, 0xF4, 0x03, 13, .. Ones(13 * 8)] },
        { "a second run past word 512", [2, 0, 1, 0xFE, 0x03, 2, .. Ones(24)] },
        { "a literal of 0 words", [1, 3, 0] },
        { "a literal of 0 words with bytes to spare", [1, 3, 0, .. Ones(8)] },
        { "a zero run of 0 after a literal", [2, 1, 1, 0, 1, .. Ones(16)] },
        { "a three-byte varint", [1, 0x80, 0x80, 0x01, 1, .. Ones(8)] },
        { "an overlong varint", [1, 0x81, 0x00, 1, .. Ones(8)] },
        { "only a run count", [1] },
        { "headers cut short", [2, 5, 3] },
        { "a varint cut after its first byte", [1, 0x85] },
        { "more runs counted than there are headers", [3, 5, 1, .. Ones(8)] },
        { "literal bytes cut short", [1, 5, 3, .. Ones(23)] },
        { "literal bytes missing", [1, 5, 3] },
        { "a byte after the last literal", [1, 5, 1, .. Ones(8), 0] },
        { "a run's worth of bytes after the last literal", [1, 5, 1, .. Ones(8), 1, 1, .. Ones(8)] },
        { "fewer runs counted than there are headers", [1, 5, 1, 1, 1, .. Ones(16)] },
    };

    [Theory]
    [MemberData(nameof(MalformedDiffs))]
    public void A_malformed_diff_is_a_format_error_and_leaves_the_page_as_it_was(string what, byte[] diff)
    {
        Assert.Null(Reference.Apply(new byte[PageSize], diff));
        var page = new GuardedPage(seed: what.Length);
        var before = page.Page.ToArray();

        var error = Assert.Throws<FormatException>(() => PageDiff.Apply(page.Page, diff));

        Assert.StartsWith("malformed page diff at byte ", error.Message);
        Assert.Equal(before, page.Page.ToArray());
        page.AssertGuardsIntact();
    }

    [Fact]
    public void A_diff_cut_short_anywhere_is_a_format_error()
    {
        Gen.Select(Page, Write.Array[1, 8]).Sample((old, writes) =>
        {
            var diff = Reference.Encode(old, Modified(old, writes));
            for (var length = 0; length < diff.Length; length++)
            {
                var page = new GuardedPage(old);
                Assert.Throws<FormatException>(() => PageDiff.Apply(page.Page, diff.AsSpan(0, length)));
                Assert.Equal(old, page.Page.ToArray());
                page.AssertGuardsIntact();
            }
        }, iter: 100);
    }

    [Fact]
    public void Random_bytes_and_mutated_diffs_apply_as_the_reference_decoder_does_or_are_format_errors()
    {
        var mutatedDiff = Gen.Select(Page, Write.Array[1, 6], Gen.Int[0, 3], Gen.Int[0, int.MaxValue], Gen.Byte)
            .Select((old, writes, mutation, at, value) =>
            {
                var diff = Reference.Encode(old, Modified(old, writes));
                var position = at % (diff.Length + 1);
                byte[] mutated = mutation switch
                {
                    0 => [.. diff.AsSpan(0, position), value, .. diff.AsSpan(position)],
                    1 when position < diff.Length => [.. diff.AsSpan(0, position), .. diff.AsSpan(position + 1)],
                    2 when position < diff.Length => [.. diff.AsSpan(0, position), (byte)(diff[position] ^ value), .. diff.AsSpan(position + 1)],
                    _ => [.. diff, value],
                };
                return (old, mutated);
            });
        var randomBytes = Gen.Select(Page, Gen.Frequency(
            (3, Gen.Byte.Array[0, 40]),
            // Small first bytes make plausible run headers.
            (1, Gen.Byte[0, 12].Array[0, 40])));

        int applied = 0, refused = 0;
        Gen.OneOf(mutatedDiff, randomBytes).Sample((old, diff) =>
        {
            var expected = Reference.Apply(old, diff);
            var page = new GuardedPage(old);
            if (expected is null)
            {
                Assert.Throws<FormatException>(() => PageDiff.Apply(page.Page, diff));
                Assert.Equal(old, page.Page.ToArray());
                Interlocked.Increment(ref refused);
            }
            else
            {
                PageDiff.Apply(page.Page, diff);
                Assert.Equal(expected, page.Page.ToArray());
                Interlocked.Increment(ref applied);
            }

            page.AssertGuardsIntact();
        }, iter: 5000);

        Assert.True(applied > 100, $"only {applied} diffs applied");
        Assert.True(refused > 100, $"only {refused} diffs refused");
    }

    private static byte[] Ones(int count) => Enumerable.Repeat((byte)0xFF, count).ToArray();

    private static byte[] Modified(byte[] page, (int Offset, byte[] Data)[] writes)
    {
        var result = (byte[])page.Clone();
        foreach (var (offset, data) in writes)
        {
            data.CopyTo(result, offset);
        }

        return result;
    }

    private static void AssertRefusedWithoutWriting(byte[] old, byte[] current)
    {
        var destination = new byte[PageDiff.MaxEncodedLength];
        destination.AsSpan().Fill(0xCC);

        Assert.Equal(-1, PageDiff.Encode(old, current, destination));
        Assert.All(destination, b => Assert.Equal(0xCC, b));
    }

    /// <summary>Encodes into a destination with guard bytes past <see cref="PageDiff.MaxEncodedLength"/>; null for a refusal.</summary>
    private static byte[]? EncodeGuarded(byte[] old, byte[] current)
    {
        var destination = new byte[PageDiff.MaxEncodedLength + Guard];
        destination.AsSpan().Fill(0xCC);
        var length = PageDiff.Encode(old, current, destination.AsSpan(0, PageDiff.MaxEncodedLength));

        Assert.All(destination[PageDiff.MaxEncodedLength..], b => Assert.Equal(0xCC, b));
        Assert.InRange(length, -1, PageDiff.MaxEncodedLength);
        return length < 0 ? null : destination[..length];
    }

    private static void AssertApplies(byte[] old, byte[] diff, byte[] expected)
    {
        var backup = new GuardedPage(old);
        PageDiff.Apply(backup.Page, diff);
        Assert.Equal(expected, backup.Page.ToArray());
        backup.AssertGuardsIntact();
    }

    /// <summary>A page in the middle of a larger buffer, with known bytes on both sides.</summary>
    private sealed class GuardedPage
    {
        private readonly byte[] _buffer = new byte[Guard + PageSize + Guard];

        public GuardedPage(byte[] content)
        {
            for (var i = 0; i < _buffer.Length; i++)
            {
                _buffer[i] = GuardByte(i);
            }

            content.CopyTo(_buffer, Guard);
        }

        public GuardedPage(int seed)
            : this(RandomPage(seed))
        {
        }

        public Span<byte> Page => _buffer.AsSpan(Guard, PageSize);

        public void AssertGuardsIntact()
        {
            for (var i = 0; i < Guard; i++)
            {
                Assert.Equal(GuardByte(i), _buffer[i]);
                Assert.Equal(GuardByte(Guard + PageSize + i), _buffer[Guard + PageSize + i]);
            }
        }

        private static byte GuardByte(int index) => (byte)(0xA5 ^ index);

        private static byte[] RandomPage(int seed)
        {
            var page = new byte[PageSize];
            new Random(seed).NextBytes(page);
            return page;
        }
    }

    private static byte[] Runs(int count) => [.. Enumerable.Range(0, count).SelectMany(run => new byte[] { run == 0 ? (byte)0 : (byte)1, 1 }), .. Ones(count * 8)];

    /// <summary>The format written and read the plain way, word by word, to check the vectorised codec against.</summary>
    private static class Reference
    {
        public static byte[] Encode(byte[] old, byte[] current)
        {
            var runs = new List<(int Zeros, int Start, int End)>();
            var word = 0;
            while (true)
            {
                var start = word;
                while (start < Words && !Changed(start))
                {
                    start++;
                }

                if (start == Words)
                {
                    break;
                }

                var end = start;
                while (end < Words && Changed(end))
                {
                    end++;
                }

                runs.Add((start - word, start, end));
                word = end;
            }

            var output = new List<byte>();
            WriteVarint(output, runs.Count);
            foreach (var (zeros, start, end) in runs)
            {
                WriteVarint(output, zeros);
                WriteVarint(output, end - start);
            }

            foreach (var (_, start, end) in runs)
            {
                for (var i = start * 8; i < end * 8; i++)
                {
                    output.Add((byte)(old[i] ^ current[i]));
                }
            }

            return [.. output];

            bool Changed(int w) => !old.AsSpan(w * 8, 8).SequenceEqual(current.AsSpan(w * 8, 8));
        }

        /// <summary>The page with the diff applied, or null when the class remarks call the diff malformed.</summary>
        public static byte[]? Apply(byte[] page, byte[] diff)
        {
            var position = 0;
            if (!TryReadVarint(diff, ref position, out var count) || count > Words / 2)
            {
                return null;
            }

            var runs = new List<(int Word, int Literal)>();
            var word = 0;
            for (var run = 0; run < count; run++)
            {
                if (!TryReadVarint(diff, ref position, out var zeros) || (zeros == 0 && run > 0)
                    || !TryReadVarint(diff, ref position, out var literal) || literal == 0
                    || word + zeros + literal > Words)
                {
                    return null;
                }

                runs.Add((word + zeros, literal));
                word += zeros + literal;
            }

            if (diff.Length - position != runs.Sum(r => r.Literal) * 8)
            {
                return null;
            }

            var result = (byte[])page.Clone();
            foreach (var (start, literal) in runs)
            {
                for (var i = 0; i < literal * 8; i++)
                {
                    result[start * 8 + i] ^= diff[position++];
                }
            }

            return result;
        }

        private static void WriteVarint(List<byte> output, int value)
        {
            while (value >= 0x80)
            {
                output.Add((byte)(value | 0x80));
                value >>= 7;
            }

            output.Add((byte)value);
        }

        private static bool TryReadVarint(byte[] diff, ref int position, out int value)
        {
            value = 0;
            for (var shift = 0; shift <= 7; shift += 7)
            {
                if (position == diff.Length)
                {
                    return false;
                }

                var b = diff[position++];
                value |= (b & 0x7F) << shift;
                if (b < 0x80)
                {
                    // Canonical: a second byte of 0 would be a longer spelling of a one-byte value.
                    return !(shift > 0 && b == 0) && value <= Words;
                }
            }

            return false;
        }
    }
}
