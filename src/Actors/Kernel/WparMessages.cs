using System.Buffers;
using System.IO.Hashing;
using System.Text.Json.Serialization;
using Vios.Actors.Partitions;
using Vios.Actors.Serialization;

namespace Vios.Actors.Kernel;

/// <summary>Asks for the WPARs in a partition's guest kernel; answered with <see cref="WparList"/>.</summary>
public sealed record ListWpars(string Name) : ILparCommand;

/// <summary>Asks for one WPAR's view and real ids; answered with <see cref="WparShown"/>.</summary>
public sealed record ShowWpar(string Name, string Wpar) : ILparCommand;

/// <summary>Creates an empty WPAR, or with <paramref name="Demo"/> one running <see cref="ScriptedSession.Run"/>; answered with <see cref="WparShown"/>.</summary>
public sealed record CreateWpar(string Name, string Wpar, bool Demo) : ILparCommand;

/// <summary>Checkpoints a WPAR into the cluster-wide journal (<c>wpar-&lt;lpar&gt;-&lt;wpar&gt;</c>); answered with <see cref="WparCheckpointed"/>.</summary>
public sealed record CheckpointWpar(string Name, string Wpar) : ILparCommand;

/// <summary>
/// Restarts a WPAR from its last <see cref="CheckpointWpar"/> image on partition <paramref name="Name"/>,
/// which must run on <paramref name="OnNode"/>; a WPAR of that name there is replaced. Answered with <see cref="WparShown"/>.
/// </summary>
public sealed record RestartWpar(string Name, string Wpar, string OnNode) : ILparCommand;

/// <summary>Moves a WPAR from partition <paramref name="Name"/> to <paramref name="ToLpar"/>; answered with <see cref="WparMigrated"/>.</summary>
public sealed record MigrateWpar(string Name, string Wpar, string ToLpar) : ILparCommand;

/// <summary>Restarts an encoded WPAR image (S6, S7, S9, S11) in partition <paramref name="Name"/>; answered with <see cref="WparShown"/>.</summary>
public sealed record RestartWparImage(string Name, string Wpar, byte[] Image) : ILparCommand;

/// <summary>The WPARs of a partition's kernel on its node.</summary>
public sealed record WparList(string Name, string Node, IReadOnlyList<WparSummary> Wpars) : IViosMessage;

/// <summary>
/// A WPAR as its processes see it (<paramref name="View"/>: processes, ptys, IPC objects and streams with
/// their modules, in virtual ids) beside the kernel's real id for each object.
/// </summary>
public sealed record WparShown(string Name, string Node, string Wpar, IReadOnlyList<string> View, IReadOnlyList<IdMapping> RealIds) : IViosMessage
{
    /// <summary>XxHash64 of every field the WPAR can observe (<see cref="WparView.RenderFull"/>): equal views, equal fingerprints.</summary>
    public ulong Fingerprint { get; init; }

    public static WparShown Of(string lpar, GuestKernel kernel, Wpar wpar)
    {
        var view = kernel.View(wpar.Id);
        return new(lpar, kernel.Identity.Node, wpar.Name, view.Render().Split('\n', StringSplitOptions.RemoveEmptyEntries), kernel.RealIds(wpar.Id))
        {
            Fingerprint = XxHash64.HashToUInt64(System.Text.Encoding.UTF8.GetBytes(view.RenderFull())),
        };
    }
}

/// <summary>A WPAR image kept in the cluster-wide journal: its size, XxHash64 and what it holds.</summary>
public sealed record WparCheckpointed(
    string Name, string Node, string Wpar, int ImageBytes, ulong Checksum, int Processes, int IpcObjects, int Ptys, int Streams, long SequenceNr) : IViosMessage;

/// <summary>A WPAR moved between partitions: what it saw before and after (equal when nothing was lost), and the real ids before and after.</summary>
public sealed record WparMigrated(
    string Name, string ToLpar, string Wpar, string FromNode, string ToNode, int ImageBytes,
    IReadOnlyList<string> ViewBefore, IReadOnlyList<string> ViewAfter, IReadOnlyList<IdMapping> RealIdsBefore, IReadOnlyList<IdMapping> RealIdsAfter) : IViosMessage
{
    /// <summary>Fingerprints of everything the WPAR could observe, before and after (<see cref="WparShown.Fingerprint"/>).</summary>
    public ulong FingerprintBefore { get; init; }

    public ulong FingerprintAfter { get; init; }

    [JsonIgnore]
    public bool Identical => FingerprintBefore == FingerprintAfter && ViewBefore.SequenceEqual(ViewAfter);
}

/// <summary>Event of <c>wpar-&lt;lpar&gt;-&lt;wpar&gt;</c>: one encoded WPAR image (it carries its own XxHash64).</summary>
public sealed record WparImageStored(byte[] Image) : IViosMessage
{
    public bool Equals(WparImageStored? other) => other is not null && Image.AsSpan().SequenceEqual(other.Image);

    public override int GetHashCode() => (int)XxHash64.HashToUInt64(Image);
}

/// <summary><see cref="WparImageStored"/> as its image bytes, unchanged: no JSON, no base64; the image's own header is checked on restart.</summary>
public sealed class WparImageStoredCodec : MessageCodec
{
    public override Type MessageType => typeof(WparImageStored);

    public override void Write(object message, IBufferWriter<byte> output) => output.Write(((WparImageStored)message).Image);

    public override object Read(ReadOnlySpan<byte> input) => new WparImageStored(input.ToArray());
}

[JsonSourceGenerationOptions(UseStringEnumConverter = true)]
[JsonSerializable(typeof(ListWpars))]
[JsonSerializable(typeof(ShowWpar))]
[JsonSerializable(typeof(CreateWpar))]
[JsonSerializable(typeof(CheckpointWpar))]
[JsonSerializable(typeof(RestartWpar))]
[JsonSerializable(typeof(MigrateWpar))]
[JsonSerializable(typeof(RestartWparImage))]
[JsonSerializable(typeof(WparList))]
[JsonSerializable(typeof(WparShown))]
[JsonSerializable(typeof(WparCheckpointed))]
[JsonSerializable(typeof(WparMigrated))]
public sealed partial class WparJsonContext : JsonSerializerContext;

public static class WparMessages
{
    public static IEnumerable<MessageManifest> Manifests { get; } =
    [
        MessageManifest.Json("wpar.list-request", WparJsonContext.Default.ListWpars),
        MessageManifest.Json("wpar.show", WparJsonContext.Default.ShowWpar),
        MessageManifest.Json("wpar.create", WparJsonContext.Default.CreateWpar),
        MessageManifest.Json("wpar.checkpoint", WparJsonContext.Default.CheckpointWpar),
        MessageManifest.Json("wpar.restart", WparJsonContext.Default.RestartWpar),
        MessageManifest.Json("wpar.migrate", WparJsonContext.Default.MigrateWpar),
        MessageManifest.Json("wpar.restart-image", WparJsonContext.Default.RestartWparImage),
        MessageManifest.Json("wpar.list", WparJsonContext.Default.WparList),
        MessageManifest.Json("wpar.shown", WparJsonContext.Default.WparShown),
        MessageManifest.Json("wpar.checkpointed", WparJsonContext.Default.WparCheckpointed),
        MessageManifest.Json("wpar.migrated", WparJsonContext.Default.WparMigrated),
        new MessageManifest("wpar.image-stored", new WparImageStoredCodec()),
    ];
}
