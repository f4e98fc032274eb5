using System.Diagnostics;
using System.Text;
using Vios.Actors.Kernel;

namespace Vios.Bench;

/// <summary>
/// Issue 7: checkpoint and restart of a WPAR's guest kernel state. One WPAR holds 100 pty pairs (data
/// queued both ways), two streams with modules, and N IPC objects, a sixth of each kind: System V
/// message queues (two 16-byte messages each), semaphore sets (four semaphores), 64-byte segments,
/// POSIX message queues (two 16-byte messages), named semaphores and 64-byte shared memory objects.
/// Checkpoint = capture (freeze the streams, walk the virtual ids, thaw) + encode (the "KERN" section
/// with its XxHash64); restart = decode (checksum first) + restore (validate the whole image, then
/// register each virtual id, create with a new real id, overlay) on a fresh kernel of another node.
/// </summary>
public static class KernelBenchmark
{
    public sealed record Result(int IpcObjects, int PtyPairs, int ImageBytes, double CaptureMs, double EncodeMs, double DecodeMs, double RestoreMs)
    {
        public double CheckpointMs => CaptureMs + EncodeMs;

        public double RestartMs => DecodeMs + RestoreMs;

        public int Objects => IpcObjects + PtyPairs;

        public double CheckpointMicrosPerObject => CheckpointMs * 1000 / Objects;

        public double RestartMicrosPerObject => RestartMs * 1000 / Objects;
    }

    public static Result Run(int ipcObjects, int ptyPairs, int runs, TextWriter log)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        var source = new GuestKernel(KernelIdentity.For("vios1"));
        var wparId = Populate(source, ipcObjects, ptyPairs);
        var expected = source.View(wparId);

        // Warm-up, and the check that what is measured is a correct restart.
        var warm = new GuestKernel(KernelIdentity.For("vios2"));
        var warmed = (WparRestarted)warm.Restart(WparImageCodec.Encode(source.Checkpoint(wparId)));
        if (warm.View(warmed.WparId) != expected) throw new InvalidOperationException("the restarted WPAR does not see what the source saw");

        var capture = new List<double>();
        var encode = new List<double>();
        var decode = new List<double>();
        var restore = new List<double>();
        var bytes = 0;
        for (var run = 0; run < runs; run++)
        {
            GC.Collect();
            var clock = Stopwatch.StartNew();
            var image = source.Checkpoint(wparId);
            capture.Add(clock.Elapsed.TotalMilliseconds);

            clock.Restart();
            var encoded = WparImageCodec.Encode(image);
            encode.Add(clock.Elapsed.TotalMilliseconds);
            bytes = encoded.Length;

            var target = new GuestKernel(KernelIdentity.For($"vios{run + 3}"));
            GC.Collect();
            clock.Restart();
            var decoded = WparImageCodec.Decode(encoded);
            decode.Add(clock.Elapsed.TotalMilliseconds);

            var collections = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
            var paused = GC.GetTotalPauseDuration();
            clock.Restart();
            var result = target.Restart(decoded);
            restore.Add(clock.Elapsed.TotalMilliseconds);
            collections = (GC.CollectionCount(0) - collections.Item1, GC.CollectionCount(1) - collections.Item2, GC.CollectionCount(2) - collections.Item3);
            var gcMs = (GC.GetTotalPauseDuration() - paused).TotalMilliseconds;
            if (result is not WparRestarted) throw new InvalidOperationException($"restart refused: {result}");

            log.WriteLine($"  {ipcObjects:#,0} objects, run {run + 1}: capture {capture[^1]:0.0} ms, encode {encode[^1]:0.0} ms, decode {decode[^1]:0.0} ms, restore {restore[^1]:0.0} ms (collections during restore: gen0 {collections.Item1}, gen1 {collections.Item2}, gen2 {collections.Item3}, paused {gcMs:0.0} ms)");
        }

        return new Result(ipcObjects, ptyPairs, bytes, Median(capture), Median(encode), Median(decode), Median(restore));
    }

    private static int Populate(GuestKernel kernel, int ipcObjects, int ptyPairs)
    {
        var wpar = kernel.CreateWpar("bench").Value;
        var root = wpar.Spawn(0, 0, "init").Value;
        var user = wpar.Spawn(100, 100, "app").Value;
        var payload = Encoding.ASCII.GetBytes("0123456789abcdef");

        for (var i = 0; i < ptyPairs; i++)
        {
            var master = wpar.OpenPtyMaster(root).Value;
            var slave = wpar.OpenPtySlave(user, master.Number).Value;
            wpar.Write(root, master.Fd, "ls -l"u8);
            wpar.Write(user, slave, "$ "u8);
        }
        for (var s = 0; s < 2; s++)
        {
            var stream = wpar.OpenStream(user).Value;
            foreach (var module in new[] { "adler32", "seqno", "ldterm" }) wpar.PushModule(user, stream, module);
            wpar.Write(user, stream, "line\npartial"u8);
        }

        for (var i = 0; i < ipcObjects; i++)
        {
            var key = i + 1;
            switch (i % 6)
            {
                case 0:
                    var queue = Check(wpar.MessageQueueGet(user, key, IpcCreate.Create, 0x1B6));
                    Check(wpar.MessageSend(user, queue, 1, payload));
                    Check(wpar.MessageSend(user, queue, 2, payload));
                    break;
                case 1:
                    var set = Check(wpar.SemaphoreGet(user, key, 4, IpcCreate.Create, 0x1B6));
                    Check(wpar.SemaphoreSetValue(user, set, i % 4, 1 + i % 7));
                    break;
                case 2:
                    var segment = Check(wpar.SharedMemoryGet(user, key, 64, IpcCreate.Create, 0x1B6));
                    var address = Check(wpar.SharedMemoryAttach(user, segment, readOnly: false));
                    Check(wpar.SharedMemoryWrite(user, address, 0, payload));
                    Check(wpar.SharedMemoryDetach(user, address));
                    break;
                case 3:
                    var mq = Check(wpar.PosixQueueOpen(user, $"/q{i}", PosixAccess.ReadWrite, IpcCreate.Create, 0x1B6, 4, 32));
                    Check(wpar.PosixQueueSend(user, mq, 1, payload));
                    Check(wpar.PosixQueueSend(user, mq, 5, payload));
                    Check(wpar.Close(user, mq));
                    break;
                case 4:
                    var semaphore = Check(wpar.PosixSemaphoreOpen(user, $"/s{i}", IpcCreate.Create, 0x1B6, i % 5));
                    Check(wpar.PosixSemaphoreClose(user, semaphore));
                    break;
                default:
                    var shm = Check(wpar.PosixSharedMemoryOpen(user, $"/m{i}", PosixAccess.ReadWrite, IpcCreate.Create, 0x1B6));
                    Check(wpar.PosixSharedMemoryTruncate(user, shm, 64));
                    Check(wpar.PosixSharedMemoryWrite(user, shm, 0, payload));
                    Check(wpar.Close(user, shm));
                    break;
            }
        }
        return wpar.Id;
    }

    private static T Check<T>(KernelResult<T> result) => result.Ok ? result.Value : throw new InvalidOperationException($"setting up the WPAR: {result.Error}");

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
