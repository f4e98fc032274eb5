using System.Globalization;
using System.Text;
using CsCheck;
using Vios.Actors.Kernel;

namespace Vios.Actors.Tests.Kernel;

/// <summary>
/// S10 and S11: a frozen stream passes nothing but checkpoint messages and loses nothing it holds;
/// the checkpoint message collects each module's identity and state in stack order; a stack rebuilt
/// in that order from those states behaves as the original did.
/// </summary>
public sealed class StreamCheckpointSpecs
{
    /// <summary>ldterm over toupper over seqno over adler32 (pushed bottom first, as I_PUSH stacks them).</summary>
    private static StreamHead FullStack()
    {
        var stream = new StreamHead();
        foreach (var module in new StreamModule[] { new ChecksumModule(), new SequenceModule(), new CaseModule(), new LineDisciplineModule() })
        {
            Assert.True(stream.Push(module));
        }
        return stream;
    }

    private static string Read(StreamHead stream) => WparRestartModelSpecs.Text(stream.Read(4096));

    /// <summary>Adler-32 from its definition, to check the module's running sum.</summary>
    private static string Adler(string text)
    {
        uint a = 1, b = 0;
        foreach (var c in Encoding.ASCII.GetBytes(text))
        {
            a = (a + c) % 65521;
            b = (b + a) % 65521;
        }
        return string.Create(CultureInfo.InvariantCulture, $"#{b << 16 | a:x8}");
    }

    [Fact]
    public void Each_module_does_its_work_in_stack_order()
    {
        var stream = FullStack();
        Assert.Equal(["ldterm", "toupper", "seqno", "adler32"], stream.Modules.Select(m => m.Identity));

        stream.Write("hel"u8);
        Assert.Equal(0, stream.Readable);
        stream.Write("lo\nab"u8);
        stream.Control("flush");

        Assert.Equal($"0:HELLO\n{Adler("0:HELLO\n")}1:AB{Adler("0:HELLO\n1:AB")}", Read(stream));
        stream.Control("lower");
        stream.Control("reset");
        stream.Write("XY\n"u8);
        Assert.Equal($"0:xy\n{Adler("0:HELLO\n1:AB0:xy\n")}", Read(stream));
    }

    [Fact]
    public void A_frozen_stream_refuses_every_message_but_a_checkpoint_message_and_keeps_what_is_queued()
    {
        var stream = FullStack();
        stream.Write("ab\n"u8);
        var first = Read(stream);
        Assert.Equal($"0:AB\n{Adler("0:AB\n")}", first);
        stream.Write("par"u8);
        var states = stream.Modules.Select(m => m.SaveState()).ToList();

        stream.Freeze();
        for (var from = -1; from < stream.Modules.Count; from++)
        {
            Assert.False(stream.PutNext(from, MessageBlock.Data("x"u8)), $"data sent from position {from} of a frozen stream");
            Assert.False(stream.PutNext(from, MessageBlock.Control("reset")), $"control sent from position {from} of a frozen stream");
        }
        stream.Write("tial\ncd\n"u8);
        stream.Control("lower");
        stream.Write("EF\n"u8);

        Assert.Equal(3, stream.QueuedAt(0).Count);
        Assert.Equal(0, stream.Readable);
        Assert.Equal(states, stream.Modules.Select(m => m.SaveState()));

        // The checkpoint message passes, through every module, each writing its state into it.
        Assert.True(stream.PutNext(-1, MessageBlock.Checkpoint()));
        var restart = stream.Checkpoint();
        Assert.Equal(MessageType.Restart, restart.Type);
        Assert.Equal(["ldterm", "toupper", "seqno", "adler32"], restart.States.Select(s => s.Identity));
        Assert.Equal(states, restart.States.Select(s => s.State));
        Assert.Equal("par", WparRestartModelSpecs.Text(restart.States[0].State));
        Assert.Equal(3, stream.QueuedAt(0).Count);
        Assert.Equal(0, stream.Readable);
        Assert.False(stream.Push(new SequenceModule()));
        Assert.Null(stream.Pop());

        stream.Thaw();
        Assert.Equal($"1:PARTIAL\n{Adler("0:AB\n1:PARTIAL\n")}2:CD\n{Adler("0:AB\n1:PARTIAL\n2:CD\n")}3:ef\n{Adler("0:AB\n1:PARTIAL\n2:CD\n3:ef\n")}", Read(stream));
        Assert.Equal(0, stream.QueuedBlocks);
    }

    [Fact]
    public void Checkpointing_a_stream_that_is_not_frozen_is_a_programming_error()
    {
        var stream = FullStack();
        Assert.Throws<InvalidOperationException>(() => stream.Checkpoint());
    }

    [Fact]
    public void A_stack_rebuilt_in_recorded_order_from_the_restart_message_continues_as_the_original()
    {
        var modules = new Func<StreamModule>[] { () => new LineDisciplineModule(), () => new CaseModule(), () => new SequenceModule(), () => new ChecksumModule() };
        var input = Gen.OneOf(
            Gen.Char["abcXYZ\n"].Array[0, 12].Select(chars => (Control: false, Text: new string(chars))),
            Gen.OneOf("flush", "reset", "upper", "lower", "off", "noop").Select(command => (Control: true, Text: command)));
        Gen.Select(Gen.Int[0, 3].Array[1, 6], input.Array[0, 20], input.Array[0, 20]).Sample((stack, before, after) =>
        {
            var original = new StreamHead();
            foreach (var m in stack) original.Push(modules[m]());
            foreach (var (control, text) in before) Send(original, control, text);
            original.Freeze();
            var restart = original.Checkpoint();
            original.Thaw();

            // Rebuild: push bottom first so the order is the recorded one, freeze, hand over the states, thaw.
            var rebuilt = new StreamHead();
            for (var i = restart.States.Count - 1; i >= 0; i--)
            {
                Assert.True(StreamModuleCatalog.Standard.TryCreate(restart.States[i].Identity, out var module));
                rebuilt.Push(module);
            }
            rebuilt.Freeze();
            Assert.Null(rebuilt.Restart(restart));
            rebuilt.Thaw();
            Assert.Equal(original.Modules.Select(m => m.DescribeState()), rebuilt.Modules.Select(m => m.DescribeState()));

            original.Read(4096);
            foreach (var (control, text) in after)
            {
                Send(original, control, text);
                Send(rebuilt, control, text);
            }
            Assert.Equal(Read(original), Read(rebuilt));
            Assert.Equal(original.Modules.Select(m => m.SaveState()), rebuilt.Modules.Select(m => m.SaveState()));
        });

        static void Send(StreamHead stream, bool control, string text)
        {
            if (control) stream.Control(text);
            else stream.Write(Encoding.ASCII.GetBytes(text));
        }
    }

    [Fact]
    public void A_restart_message_that_does_not_fit_the_stack_changes_no_module()
    {
        var stream = FullStack();
        stream.Write("ab\n"u8);
        stream.Freeze();
        var restart = stream.Checkpoint();
        var fresh = FullStack();
        fresh.Freeze();

        var swapped = restart with { States = EquatableArray.From(restart.States.Reverse()) };
        Assert.Equal("position 0 holds ldterm, the restart message's state is for adler32", fresh.Restart(swapped));
        var short_ = restart with { States = EquatableArray.From(restart.States.Take(3)) };
        Assert.Equal("the restart message holds 3 module states for 4 modules", fresh.Restart(short_));
        Assert.Equal(FullStack().Modules.Select(m => m.SaveState()), fresh.Modules.Select(m => m.SaveState()));
    }

    [Fact]
    public void A_stream_frozen_with_data_queued_is_restarted_frozen_on_another_kernel_and_its_data_flows_on_thaw()
    {
        var source = new GuestKernel(KernelIdentity.Default);
        var wpar = source.CreateWpar("streams").Value;
        var pid = wpar.Spawn(0, 0, "writer").Value;
        var fd = wpar.OpenStream(pid).Value;
        foreach (var module in new[] { "adler32", "seqno", "ldterm" }) Assert.True(wpar.PushModule(pid, fd, module).Ok);
        wpar.Write(pid, fd, "one\ntw"u8);
        Assert.True(wpar.FreezeStream(pid, fd).Ok);
        wpar.Write(pid, fd, "o\nthree\n"u8);
        Assert.Equal(Errno.Again, wpar.PushModule(pid, fd, "toupper").Error!.Errno);
        Assert.Equal(Errno.Again, wpar.PopModule(pid, fd).Error!.Errno);
        var image = WparImageCodec.Decode(WparImageCodec.Encode(source.Checkpoint(wpar.Id)));

        var stream = Assert.Single(image.Streams);
        Assert.True(stream.Frozen);
        Assert.Equal(["ldterm", "seqno", "adler32"], stream.Modules.OrderBy(m => m.Position).Select(m => m.Identity));
        Assert.Equal("o\nthree\n", WparRestartModelSpecs.Text(Assert.Single(stream.Queued).Payload));
        Assert.Equal("tw", WparRestartModelSpecs.Text(stream.Modules[0].State));

        var target = WparRestartModelSpecs.OtherNode(1);
        var moved = target.Wpar(Assert.IsType<WparRestarted>(target.Restart(image)).WparId);
        Assert.True(target.View(moved.Id).Streams[0].Frozen);
        Assert.Equal(source.View(wpar.Id).Streams[0], target.View(moved.Id).Streams[0]);

        // Both copies thaw the same way: nothing queued was lost, and module state carried over.
        wpar.ThawStream(pid, fd);
        moved.ThawStream(pid, fd);
        var expected = $"0:one\n{Adler("0:one\n")}1:two\n{Adler("0:one\n1:two\n")}2:three\n{Adler("0:one\n1:two\n2:three\n")}";
        Assert.Equal(expected, Text(wpar.Read(pid, fd, 4096)));
        Assert.Equal(expected, Text(moved.Read(pid, fd, 4096)));
    }

    private static string Text(KernelResult<ByteString> read) => read.Ok ? WparRestartModelSpecs.Text(read.Value) : read.Error!.ToString();
}
