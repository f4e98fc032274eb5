namespace Vios.Actors.Partitions;

/// <summary>
/// S13 resource allocation: each vios node advertises its CPUs, memory banks and I/O adapters with
/// their physical positions; a partition's request (vCPUs, memory, adapters) is allocated on one
/// node according to its policy; a request no node can satisfy is refused naming what is missing.
/// Pure state: the partition manager persists the allocations and replays them here.
/// </summary>
public sealed class ResourcePlanner
{
    private readonly SortedDictionary<string, NodeState> _nodes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Allocation> _allocations = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, Allocation> Allocations => _allocations;

    public IEnumerable<string> Nodes => _nodes.Keys;

    /// <summary>A node advertises (or re-advertises) its resources; what is allocated on it stays allocated.</summary>
    public void Advertise(NodeResources resources)
    {
        var state = new NodeState(resources);
        foreach (var allocation in _allocations.Values.Where(a => a.Node == resources.Node)) state.Take(allocation);
        _nodes[resources.Node] = state;
    }

    /// <summary>Plans and takes the resources in one step.</summary>
    public PlacementResult Place(ResourceRequest request)
    {
        var result = Plan(request);
        if (result.Allocation is { } allocation) Commit(allocation);
        return result;
    }

    /// <summary>
    /// The allocation the request's policy would get, or what is missing; takes nothing, so the
    /// partition manager can persist the decision first and <see cref="Commit"/> it when it applies.
    /// </summary>
    public PlacementResult Plan(ResourceRequest request)
    {
        if (request.Vcpus < 1) return PlacementResult.Refused("a partition needs at least 1 vCPU");
        if (request.MemoryMb < 1) return PlacementResult.Refused("a partition needs some memory");
        if (_allocations.ContainsKey(request.Partition)) return PlacementResult.Refused($"partition '{request.Partition}' already has resources");
        if (request.Node is { } pinned && !_nodes.ContainsKey(pinned)) return PlacementResult.Refused($"no vios node '{pinned}' advertises resources");

        var candidates = _nodes.Values.Where(n => request.Node is null || n.Resources.Node == request.Node).ToList();
        var plans = candidates.Select(n => n.Plan(request)).OfType<Candidate>().ToList();
        if (plans.Count == 0) return PlacementResult.Refused(Shortfall(request, candidates));

        var chosen = request.Policy switch
        {
            // Locality: the domain with the most free vCPUs, so the partition can grow in place.
            PlacementPolicy.Locality => plans.OrderByDescending(p => p.Score).First(),
            // Spread: the node where the partition touches the most domains.
            PlacementPolicy.Spread => plans.OrderByDescending(p => p.Allocation.Domains.Count).ThenByDescending(p => p.Score).First(),
            // Balanced: the node left least loaded after this placement.
            _ => plans.OrderBy(p => p.Score).First(),
        };
        return PlacementResult.Placed(chosen.Allocation);
    }

    /// <summary>
    /// Where partition <paramref name="request"/> would go if it left the node it has now (failover,
    /// migration): as <see cref="Plan"/>, with its current allocation not counted against it.
    /// </summary>
    public PlacementResult PlanMove(ResourceRequest request)
    {
        if (!_allocations.Remove(request.Partition, out var current)) return Plan(request);
        if (_nodes.TryGetValue(current.Node, out var node)) node.Give(current);
        try
        {
            return Plan(request);
        }
        finally
        {
            _allocations[request.Partition] = current;
            if (_nodes.TryGetValue(current.Node, out var again)) again.Take(current);
        }
    }

    /// <summary>
    /// Records an allocation (a new one, or one replayed from the journal). Resources of a node that
    /// has not advertised yet are taken when it does; committing the same allocation twice is a no-op.
    /// </summary>
    public void Commit(Allocation allocation)
    {
        if (_allocations.TryGetValue(allocation.Partition, out var existing))
        {
            if (existing == allocation || (existing.Node == allocation.Node && existing.Cpus.SequenceEqual(allocation.Cpus)
                && existing.Memory.SequenceEqual(allocation.Memory) && existing.Adapters.SequenceEqual(allocation.Adapters))) return;
            Release(allocation.Partition);
        }
        _allocations[allocation.Partition] = allocation;
        if (_nodes.TryGetValue(allocation.Node, out var node)) node.Take(allocation);
    }

    /// <summary>A node left: nothing new is placed on it; what it had stays allocated for when it returns.</summary>
    public bool Withdraw(string node) => _nodes.Remove(node);

    /// <summary>Gives a partition's resources back; false if it had none.</summary>
    public bool Release(string partition)
    {
        if (!_allocations.Remove(partition, out var allocation)) return false;
        if (_nodes.TryGetValue(allocation.Node, out var node)) node.Give(allocation);
        return true;
    }

    private static string Shortfall(ResourceRequest request, IReadOnlyList<NodeState> candidates)
    {
        if (candidates.Count == 0) return "no vios node advertises resources";
        var scope = request.Policy == PlacementPolicy.Locality ? " in one position domain" : "";
        var groups = candidates.SelectMany(n => request.Policy == PlacementPolicy.Locality
            ? n.Domains.Select(d => (Where: $"{n.Resources.Node} {d}", Cpus: n.FreeCpus(d).Count, Mb: n.FreeMemoryMb(d), Adapters: (Func<string, int>)(k => n.FreeAdapters(k, d).Count)))
            : [(Where: n.Resources.Node, Cpus: n.FreeCpus(null).Count, Mb: n.FreeMemoryMb(null), Adapters: k => n.FreeAdapters(k, null).Count)]).ToList();

        var missing = new List<string>();
        var mostCpus = groups.MaxBy(g => g.Cpus);
        if (mostCpus.Cpus < request.Vcpus) missing.Add($"{request.Vcpus} free vCPUs{scope} (most: {mostCpus.Cpus} on {mostCpus.Where})");
        var mostMemory = groups.MaxBy(g => g.Mb);
        if (mostMemory.Mb < request.MemoryMb) missing.Add($"{request.MemoryMb} MB of free memory{scope} (most: {mostMemory.Mb} MB on {mostMemory.Where})");
        foreach (var kind in request.AdapterKinds.Distinct())
        {
            var wanted = request.AdapterKinds.Count(k => k == kind);
            var most = groups.MaxBy(g => g.Adapters(kind));
            if (most.Adapters(kind) < wanted) missing.Add($"{wanted} free '{kind}' adapter{(wanted == 1 ? "" : "s")}{scope} (most: {most.Adapters(kind)} on {most.Where})");
        }
        return missing.Count > 0
            ? $"no node can place '{request.Partition}': none has {string.Join("; none has ", missing)}"
            : $"no node can place '{request.Partition}': no single {(scope.Length > 0 ? "position domain" : "node")} has the vCPUs, memory and adapters together";
    }

    /// <summary>An allocation a node could make, and how good it is for the request's policy.</summary>
    private sealed record Candidate(Allocation Allocation, double Score);

    /// <summary>One node's resources and which of them are taken.</summary>
    private sealed class NodeState(NodeResources resources)
    {
        private readonly HashSet<string> _usedCpus = [];
        private readonly Dictionary<string, long> _usedMb = [];
        private readonly HashSet<string> _usedAdapters = [];

        public NodeResources Resources { get; } = resources;

        public IEnumerable<string> Domains =>
            Resources.Cpus.Select(c => c.Position.Domain).Concat(Resources.Memory.Select(m => m.Position.Domain)).Distinct().Order(StringComparer.Ordinal);

        public List<PhysicalCpu> FreeCpus(string? domain) =>
            Resources.Cpus.Where(c => !_usedCpus.Contains(c.Id) && (domain is null || c.Position.Domain == domain)).ToList();

        public long FreeMb(MemoryBank bank) => bank.SizeMb - _usedMb.GetValueOrDefault(bank.Id);

        public long FreeMemoryMb(string? domain) =>
            Resources.Memory.Where(b => domain is null || b.Position.Domain == domain).Sum(FreeMb);

        public List<IoAdapter> FreeAdapters(string kind, string? domain) =>
            Resources.Adapters.Where(a => a.Kind == kind && !_usedAdapters.Contains(a.Id) && (domain is null || a.Position.Domain == domain)).ToList();

        public void Take(Allocation allocation) => Apply(allocation, +1);

        public void Give(Allocation allocation) => Apply(allocation, -1);

        /// <summary>The allocation this node would make under the request's policy, with its score; null if it cannot.</summary>
        public Candidate? Plan(ResourceRequest request) => request.Policy switch
        {
            PlacementPolicy.Locality => Domains
                .Select(d => PlanIn(request, d))
                .OfType<Candidate>()
                .OrderByDescending(p => p.Score)
                .FirstOrDefault(),
            PlacementPolicy.Spread => PlanAcross(request, leveling: false),
            _ => PlanAcross(request, leveling: true),
        };

        /// <summary>Locality: everything from one domain.</summary>
        private Candidate? PlanIn(ResourceRequest request, string domain)
        {
            var cpus = FreeCpus(domain);
            if (cpus.Count < request.Vcpus || FreeMemoryMb(domain) < request.MemoryMb) return null;
            var adapters = PickAdapters(request, domain);
            if (adapters is null) return null;
            var banks = Resources.Memory.Where(b => b.Position.Domain == domain).ToList();
            return new Candidate(new Allocation(request.Partition, Resources.Node, request.Policy, cpus.Take(request.Vcpus).ToList(),
                FillMemory(banks, request.MemoryMb, leveling: true), adapters), cpus.Count);
        }

        /// <summary>
        /// Spread: vCPUs round-robin over the domains, memory in equal shares over the banks.
        /// Balanced: each vCPU and each memory chunk from the domain (bank) with the most left, which levels them.
        /// </summary>
        private Candidate? PlanAcross(ResourceRequest request, bool leveling)
        {
            var free = FreeCpus(null);
            if (free.Count < request.Vcpus || FreeMemoryMb(null) < request.MemoryMb) return null;
            var adapters = PickAdapters(request, null);
            if (adapters is null) return null;

            var byDomain = free.GroupBy(c => c.Position.Domain).OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => new Queue<PhysicalCpu>(g)).ToList();
            var cpus = new List<PhysicalCpu>();
            for (var turn = 0; cpus.Count < request.Vcpus; turn++)
            {
                var queue = leveling
                    ? byDomain.OrderByDescending(q => q.Count).First()
                    : byDomain.Where(q => q.Count > 0).ElementAt(turn % byDomain.Count(q => q.Count > 0));
                cpus.Add(queue.Dequeue());
            }
            var memory = FillMemory(Resources.Memory, request.MemoryMb, leveling);
            var allocation = new Allocation(request.Partition, Resources.Node, request.Policy, cpus, memory, adapters);
            var utilisation = (double)(Resources.Cpus.Count - free.Count + request.Vcpus) / Resources.Cpus.Count;
            return new Candidate(allocation, leveling ? utilisation : free.Count);
        }

        private List<IoAdapter>? PickAdapters(ResourceRequest request, string? domain)
        {
            var picked = new List<IoAdapter>();
            foreach (var kind in request.AdapterKinds.Distinct())
            {
                var wanted = request.AdapterKinds.Count(k => k == kind);
                var available = FreeAdapters(kind, domain);
                if (available.Count < wanted) return null;
                picked.AddRange(available.Take(wanted));
            }
            return picked;
        }

        /// <summary>
        /// Leveling (balanced, locality): each chunk from the bank with the most room left, which evens out
        /// what remains. Otherwise (spread): an equal share from every bank with room, the rest from the roomiest.
        /// </summary>
        private List<MemoryGrant> FillMemory(IEnumerable<MemoryBank> banks, long wantedMb, bool leveling)
        {
            var room = banks.Where(b => FreeMb(b) > 0).ToDictionary(b => b, FreeMb);
            var granted = room.Keys.ToDictionary(b => b, _ => 0L);
            var remaining = wantedMb;
            if (!leveling)
            {
                var share = (wantedMb + room.Count - 1) / room.Count;
                foreach (var bank in room.Keys.OrderBy(b => b.Id, StringComparer.Ordinal))
                {
                    var take = Math.Min(Math.Min(share, room[bank]), remaining);
                    granted[bank] += take;
                    remaining -= take;
                }
            }
            var chunk = Math.Max(1, wantedMb / 16);
            while (remaining > 0)
            {
                var bank = room.Keys.OrderByDescending(b => room[b] - granted[b]).ThenBy(b => b.Id, StringComparer.Ordinal).First();
                var take = Math.Min(Math.Min(chunk, remaining), room[bank] - granted[bank]);
                granted[bank] += take;
                remaining -= take;
            }
            return granted.Where(g => g.Value > 0).OrderBy(g => g.Key.Id, StringComparer.Ordinal)
                .Select(g => new MemoryGrant(g.Key.Id, g.Key.Position, g.Value)).ToList();
        }

        private void Apply(Allocation allocation, int sign)
        {
            foreach (var cpu in allocation.Cpus)
            {
                if (sign > 0) _usedCpus.Add(cpu.Id);
                else _usedCpus.Remove(cpu.Id);
            }
            foreach (var grant in allocation.Memory) _usedMb[grant.BankId] = _usedMb.GetValueOrDefault(grant.BankId) + sign * grant.SizeMb;
            foreach (var adapter in allocation.Adapters)
            {
                if (sign > 0) _usedAdapters.Add(adapter.Id);
                else _usedAdapters.Remove(adapter.Id);
            }
        }
    }
}
