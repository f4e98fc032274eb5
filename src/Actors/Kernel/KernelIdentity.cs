using System.IO.Hashing;
using System.Text;

namespace Vios.Actors.Kernel;

/// <summary>
/// Where a guest kernel starts handing out real identifiers. Two kernels with different identities
/// give the same sequence of objects different real ids, as two nodes' kernels do: a WPAR moved
/// between them cannot keep its real ids and must see virtual ones (S7, S9).
/// </summary>
/// <param name="Node">The node (or LPAR) the kernel runs on, for messages.</param>
/// <param name="SequenceSeed">
/// The System V slot sequence number every slot starts at: a real id is
/// <c>sequence * <see cref="SysVIdSpace.MaxSlots"/> + slot</c>, and the sequence grows each time the slot is reused.
/// </param>
/// <param name="ReservedSlots">System V slots already taken by the node's own (global) objects.</param>
/// <param name="FirstHandle">First real POSIX kernel handle, stream head id and POSIX shared memory inode.</param>
/// <param name="FirstPty">Lowest real pty device number the kernel hands out.</param>
/// <param name="FirstPid">First real process id.</param>
public sealed record KernelIdentity(string Node, int SequenceSeed, int ReservedSlots, long FirstHandle, int FirstPty, int FirstPid)
{
    /// <summary>A kernel whose counters all start low: the first node.</summary>
    public static KernelIdentity Default { get; } = new("node0", 0, 0, 1, 0, 100);

    /// <summary>
    /// An identity derived from the node name, so kernels on differently named nodes allocate
    /// different real ids without anyone choosing counters.
    /// </summary>
    public static KernelIdentity For(string node)
    {
        ArgumentException.ThrowIfNullOrEmpty(node);
        var hash = XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(node));
        return new KernelIdentity(
            node,
            SequenceSeed: (int)(hash % 1000) + 1,
            ReservedSlots: (int)(hash >> 10 & 0x3F),
            FirstHandle: 1_000 + (long)(hash >> 16 & 0xFFFF) * 16,
            FirstPty: (int)(hash >> 32 & 0x7F),
            FirstPid: 200 + (int)(hash >> 40 & 0x3FFF));
    }
}
