using System.Text.Json.Serialization;

namespace Vios.Actors.Partitions;

/// <summary>
/// Where a physical resource sits: <c>cec1/node0/slot3</c> is slot 3 of node 0 (a building block
/// with its own CPUs and memory) in central electronics complex 1. Resources of one
/// <see cref="Domain"/> are close to one another; crossing domains costs latency.
/// </summary>
/// <remarks>Written as its text, <c>"cec1/node0/slot3"</c>, in messages and in <c>vios ctl --json</c>.</remarks>
[JsonConverter(typeof(PhysicalPositionJsonConverter))]
public sealed record PhysicalPosition(string Cec, string Node, string Slot)
{
    [JsonIgnore]
    public string Domain => $"{Cec}/{Node}";

    public static PhysicalPosition Parse(string text)
    {
        var parts = text.Split('/');
        return parts is [var cec, var node, var slot] && parts.All(p => p.Length > 0)
            ? new PhysicalPosition(cec, node, slot)
            : throw new FormatException($"'{text}' is not a physical position (expected cec/node/slot, e.g. cec1/node0/slot3)");
    }

    public override string ToString() => $"{Cec}/{Node}/{Slot}";
}

/// <summary>Reads and writes a <see cref="PhysicalPosition"/> as <c>"cec/node/slot"</c>.</summary>
public sealed class PhysicalPositionJsonConverter : JsonConverter<PhysicalPosition>
{
    public override PhysicalPosition Read(ref System.Text.Json.Utf8JsonReader reader, Type typeToConvert, System.Text.Json.JsonSerializerOptions options)
    {
        var text = reader.TokenType == System.Text.Json.JsonTokenType.String ? reader.GetString()! : throw new System.Text.Json.JsonException("a physical position is a string");
        try
        {
            return PhysicalPosition.Parse(text);
        }
        catch (FormatException e)
        {
            throw new System.Text.Json.JsonException(e.Message, e);
        }
    }

    public override void Write(System.Text.Json.Utf8JsonWriter writer, PhysicalPosition value, System.Text.Json.JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString());
}

public sealed record PhysicalCpu(string Id, PhysicalPosition Position);

public sealed record MemoryBank(string Id, PhysicalPosition Position, long SizeMb);

/// <summary>An I/O adapter that can be given to one partition exclusively (S13), e.g. <c>eth</c> or <c>fc</c>.</summary>
public sealed record IoAdapter(string Id, string Kind, PhysicalPosition Position);

/// <summary>What one vios node advertises: its physical CPUs, memory banks and I/O adapters.</summary>
public sealed record NodeResources(string Node, IReadOnlyList<PhysicalCpu> Cpus, IReadOnlyList<MemoryBank> Memory, IReadOnlyList<IoAdapter> Adapters)
{
    /// <summary>
    /// The resources of a node made of position domains (building blocks): in each, CPUs at
    /// <c>&lt;domain&gt;/cpuN</c>, one memory bank at <c>&lt;domain&gt;/dimm0</c> and adapters in
    /// slots <c>&lt;domain&gt;/slot1</c>, <c>slot2</c>, ...
    /// </summary>
    public static NodeResources FromDomains(string node, IEnumerable<ResourceDomain> domains)
    {
        var list = domains.ToList();
        var cpus = list.SelectMany(d => Enumerable.Range(0, d.Cpus)
            .Select(i => new PhysicalCpu($"{node}/{d.Domain}/cpu{i}", PhysicalPosition.Parse($"{d.Domain}/cpu{i}")))).ToList();
        var memory = list.Where(d => d.MemoryMb > 0)
            .Select(d => new MemoryBank($"{node}/{d.Domain}/mem", PhysicalPosition.Parse($"{d.Domain}/dimm0"), d.MemoryMb)).ToList();
        var adapters = list.SelectMany(d => d.Adapters
            .Select((kind, i) => new IoAdapter($"{node}/{d.Domain}/{kind}{i}", kind, PhysicalPosition.Parse($"{d.Domain}/slot{i + 1}")))).ToList();
        return new NodeResources(node, cpus, memory, adapters);
    }
}

/// <summary>One position domain of a node (<c>cec1/node0</c>): its CPU count, memory and adapter kinds, slot by slot.</summary>
public sealed record ResourceDomain(string Domain, int Cpus, long MemoryMb, IReadOnlyList<string> Adapters);

public enum PlacementPolicy
{
    /// <summary>Everything from one position domain: the lowest latency between the partition's CPUs and memory.</summary>
    Locality,

    /// <summary>vCPUs and memory spread over as many domains of the node as possible: the most bandwidth, and no single domain to lose.</summary>
    Spread,

    /// <summary>The node left least loaded, and within it the domains with the most free resources first, to even out the load.</summary>
    Balanced,
}

/// <summary>A partition's request for resources (S13: an I/O device, a CPU count and a memory amount, and a policy).</summary>
public sealed record ResourceRequest(string Partition, int Vcpus, long MemoryMb, IReadOnlyList<string> AdapterKinds, PlacementPolicy Policy)
{
    /// <summary>Place on this node only (an operator's <c>--node</c>); null lets the policy choose.</summary>
    public string? Node { get; init; }
}

/// <summary>A slice of one memory bank given to a partition.</summary>
public sealed record MemoryGrant(string BankId, PhysicalPosition Position, long SizeMb);

/// <summary>One resource as the guest sees it, beside its physical position (S13: the position converted for the guest OS).</summary>
public sealed record GuestResource(string Guest, string Physical, PhysicalPosition Position);

/// <summary>The resources a partition received on one node.</summary>
public sealed record Allocation(string Partition, string Node, PlacementPolicy Policy,
    IReadOnlyList<PhysicalCpu> Cpus, IReadOnlyList<MemoryGrant> Memory, IReadOnlyList<IoAdapter> Adapters)
{
    [JsonIgnore]
    public long MemoryMb => Memory.Sum(m => m.SizeMb);

    [JsonIgnore]
    public IReadOnlyCollection<string> Domains =>
        Cpus.Select(c => c.Position.Domain).Concat(Memory.Select(m => m.Position.Domain)).Concat(Adapters.Select(a => a.Position.Domain)).ToHashSet();

    /// <summary>
    /// S13: what the guest asks for, each of its resources (<c>vcpu0</c>, <c>memory0</c>, <c>eth0</c>)
    /// with the physical position the monitor allocated it from.
    /// </summary>
    public IReadOnlyList<GuestResource> GuestView()
    {
        var view = new List<GuestResource>();
        view.AddRange(Cpus.Select((c, i) => new GuestResource($"vcpu{i}", c.Id, c.Position)));
        view.AddRange(Memory.Select((m, i) => new GuestResource($"memory{i} ({m.SizeMb} MB)", m.BankId, m.Position)));
        foreach (var group in Adapters.GroupBy(a => a.Kind))
            view.AddRange(group.Select((a, i) => new GuestResource($"{group.Key}{i}", a.Id, a.Position)));
        return view;
    }
}

/// <summary>Either the allocation or, when no node can satisfy the request, what is missing.</summary>
public sealed record PlacementResult(Allocation? Allocation, string? Refusal)
{
    public static PlacementResult Placed(Allocation allocation) => new(allocation, null);

    public static PlacementResult Refused(string reason) => new(null, reason);
}
