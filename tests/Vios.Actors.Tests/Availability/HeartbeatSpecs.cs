using Vios.Actors.Availability;

namespace Vios.Actors.Tests.Availability;

/// <summary>
/// S16 aggregated heartbeats on the pure model: guests heartbeat to their own node's master, masters
/// exchange one heartbeat per peer per interval. Guest <c>lpar-i</c> runs on node <c>i mod nodes</c> with
/// its standby on the next node, so every standby is on another node. Interval 1 s; a guest or node is
/// silent after 3 intervals.
/// </summary>
public sealed class HeartbeatSpecs
{
    private static readonly DateTimeOffset Start = new(2026, 1, 5, 9, 0, 0, TimeSpan.Zero);
    private static readonly HeartbeatSettings Settings = new(TimeSpan.FromSeconds(1), GuestMissedIntervals: 3, NodeMissedIntervals: 3);

    private static string[] Nodes(int count) => Enumerable.Range(0, count).Select(i => $"vios-{(char)('a' + i)}").ToArray();

    private static HeartbeatNetwork Network(int nodes, int lpars)
    {
        var names = Nodes(nodes);
        var network = new HeartbeatNetwork(names, Settings, Start);
        for (var i = 0; i < lpars; i++) network.Place($"lpar-{i:D4}", names[i % nodes], names[(i + 1) % nodes]);
        return network;
    }

    private static List<GuestSilent> SilentGuests(HeartbeatNetwork network) => network.Reports.OfType<GuestSilent>().ToList();

    private static List<NodeSilent> SilentNodes(HeartbeatNetwork network) => network.Reports.OfType<NodeSilent>().ToList();

    [Fact]
    public void With_200_lpars_on_3_nodes_each_interval_sends_at_most_6_node_to_node_messages_and_no_guest_heartbeat_leaves_its_node()
    {
        var network = Network(3, 200);

        network.Advance(5);

        Assert.All(network.Traffic, t =>
        {
            Assert.True(t.NodeToNodeMessages <= 3 * (3 - 1), $"{t.NodeToNodeMessages} node-to-node messages in one interval");
            Assert.Equal(200, t.GuestHeartbeats);
            Assert.Equal(0, t.GuestHeartbeatsAcrossNodes);
        });
        Assert.Equal(6, network.LastInterval.NodeToNodeMessages);
        Assert.Equal(6, network.Masters.Values.Sum(m => m.Counters.NodeMessagesLastInterval));
        foreach (var master in network.Masters.Values)
        {
            // Each master heard exactly its own guests, every interval: none of another node's.
            var own = network.Guests.Count(g => g.Node == master.Node);
            Assert.Equal(own * 5L, master.Counters.GuestHeartbeatsReceived);
            Assert.Equal(own, master.LiveGuests.Count);
            Assert.Equal(2 * 5L, master.Counters.PeerHeartbeatsReceived);
        }
        Assert.Empty(network.Reports);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    [InlineData(1_000)]
    public void Node_to_node_traffic_grows_with_nodes_not_with_partitions(int lpars)
    {
        var network = Network(4, lpars);

        network.Advance(2);

        Assert.Equal(4 * 3, network.LastInterval.NodeToNodeMessages);
        Assert.Equal(lpars, network.LastInterval.GuestHeartbeats);
    }

    [Fact]
    public void A_silenced_guest_is_reported_once_after_the_configured_missed_intervals_and_not_before()
    {
        var network = Network(3, 200);
        network.Advance(2);
        var lastHeartbeat = network.Now;

        network.SilenceGuest("lpar-0007");
        // Its heartbeats due at the next 3 ticks are all missed; a heartbeat may still be in flight at the third.
        network.Advance(Settings.GuestMissedIntervals);
        Assert.Empty(SilentGuests(network));
        Assert.Equal(GuestHealth.Live, network["vios-b"].HealthOf("lpar-0007"));

        network.Advance();
        var silent = Assert.Single(SilentGuests(network));
        Assert.Equal(new GuestSilent("vios-b", "lpar-0007", lastHeartbeat, network.Now), silent);

        network.Advance(10);
        Assert.Single(SilentGuests(network));
        Assert.Equal(1, network["vios-b"].Counters.SilentGuestsReported);
        Assert.Equal(0, network["vios-a"].Counters.SilentGuestsReported + network["vios-c"].Counters.SilentGuestsReported);
        Assert.Equal(GuestHealth.Silent, network["vios-b"].HealthOf("lpar-0007"));
        Assert.DoesNotContain("lpar-0007", network["vios-b"].LiveGuests);
        Assert.Equal(66, network["vios-b"].LiveGuests.Count);
    }

    [Fact]
    public void A_guest_that_resumes_is_reported_again_only_if_it_falls_silent_again()
    {
        var network = Network(3, 200);
        network.Advance();
        network.SilenceGuest("lpar-0042");
        network.Advance(Settings.GuestMissedIntervals + 1);
        Assert.Single(SilentGuests(network));

        network.ResumeGuest("lpar-0042");
        network.Advance(20);
        Assert.Single(SilentGuests(network));
        Assert.Equal(GuestHealth.Live, network["vios-a"].HealthOf("lpar-0042"));
        Assert.Contains("lpar-0042", network["vios-a"].LiveGuests);

        network.SilenceGuest("lpar-0042");
        network.Advance(Settings.GuestMissedIntervals + 1);

        Assert.Equal(["lpar-0042", "lpar-0042"], SilentGuests(network).Select(s => s.Lpar));
        Assert.Equal(2, network["vios-a"].Counters.SilentGuestsReported);
    }

    [Fact]
    public void A_node_whose_master_stops_sending_is_reported_silent_by_every_other_master_with_its_last_known_lpars()
    {
        var network = Network(3, 200);
        network.Advance(2);
        var lastHeard = network.Now;
        var onC = network.Guests.Where(g => g.Node == "vios-c").Select(g => g.Lpar).Order(StringComparer.Ordinal).ToList();

        network.SilenceMaster("vios-c");
        network.Advance(Settings.NodeMissedIntervals);
        Assert.Empty(SilentNodes(network));
        Assert.True(network["vios-a"].IsPeerAlive("vios-c"));

        network.Advance();
        var reports = SilentNodes(network);
        Assert.Equal(["vios-a", "vios-b"], reports.Select(r => r.ReportedBy).Order(StringComparer.Ordinal));
        Assert.All(reports, r =>
        {
            Assert.Equal("vios-c", r.Node);
            Assert.Equal(onC, r.LastLiveLpars);
            Assert.Equal(2, r.LastSequence);
            Assert.Equal(lastHeard, r.LastHeard);
            Assert.Equal(network.Now, r.DetectedAt);
        });
        Assert.Equal(66, onC.Count);

        network.Advance(10);
        Assert.Equal(2, SilentNodes(network).Count);
        Assert.Empty(SilentGuests(network));
        foreach (var watcher in new[] { "vios-a", "vios-b" })
        {
            Assert.False(network[watcher].IsPeerAlive("vios-c"));
            Assert.All(onC, lpar => Assert.Equal(GuestHealth.Unknown, network[watcher].HealthOf(lpar)));
        }
        Assert.True(network["vios-a"].IsPeerAlive("vios-b"));
    }

    [Fact]
    public void A_silent_node_whose_master_is_heard_again_is_reported_heard_again_once_by_each_master_that_held_it_silent()
    {
        var network = Network(3, 30);
        network.Advance(2);
        network.SilenceMaster("vios-c");
        network.Advance(Settings.NodeMissedIntervals + 1);
        Assert.Equal(2, SilentNodes(network).Count);
        Assert.Empty(network.Reports.OfType<NodeHeardAgain>());

        // Slow, not dead: its heartbeats arrive again.
        network.ResumeMaster("vios-c");
        network.Advance(3);

        // (vios-c, frozen meanwhile, found the others silent as it woke and heard them at once: its own reports.)
        var heard = network.Reports.OfType<NodeHeardAgain>().Where(h => h.Node == "vios-c").ToList();
        Assert.Equal(["vios-a", "vios-b"], heard.Select(h => h.ReportedBy).Order(StringComparer.Ordinal));
        Assert.True(network["vios-a"].IsPeerAlive("vios-c"));
        // Reported silent once each, not again after it was heard.
        Assert.Equal(2, SilentNodes(network).Count(r => r.Node == "vios-c"));
    }

    [Fact]
    public void The_standby_node_learns_the_primary_guests_health_without_any_per_guest_cross_node_message()
    {
        var network = new HeartbeatNetwork(Nodes(3), Settings, Start);
        network.Place("db", "vios-a", standbyNode: "vios-b");
        network.Place("web", "vios-c", standbyNode: "vios-a");
        var standby = network["vios-b"];
        Assert.Equal(GuestHealth.Unknown, standby.HealthOf("db"));

        network.Advance();
        Assert.Equal(GuestHealth.Live, standby.HealthOf("db"));
        Assert.Equal(["db"], standby.LiveLparsOf("vios-a"));

        network.SilenceGuest("db");
        network.Advance(Settings.GuestMissedIntervals + 1);
        Assert.Equal(GuestHealth.Silent, standby.HealthOf("db"));

        // All that crossed nodes were the masters' aggregated heartbeats, 6 an interval; db's agent
        // talked to vios-a's master only, and vios-b's master heard no guest at all.
        Assert.All(network.Traffic, t => Assert.Equal(6, t.NodeToNodeMessages));
        Assert.Equal(0, network.GuestHeartbeatsAcrossNodes);
        Assert.Equal(0, standby.Counters.GuestHeartbeatsReceived);
        Assert.Equal(1, network["vios-a"].Counters.GuestHeartbeatsReceived);
        Assert.Equal(network.NodeToNodeMessages, network.Masters.Values.Sum(m => m.Counters.NodeMessagesSent));
    }

    [Fact]
    public void With_1000_lpars_on_4_nodes_the_aggregated_scheme_sends_12_messages_an_interval_where_heartbeats_per_guest_send_1000()
    {
        var network = Network(4, 1_000);

        network.Advance(3);

        // The naive scheme: each guest's slave heartbeats its standby-side slave once an interval, one
        // way. Every standby here is on another node, so each of those heartbeats crosses nodes (a
        // slave answering its partner would double it; standbys placed at random on any of the 4 nodes,
        // own included, would put a quarter on the same node and leave 750).
        var naive = network.Guests.Count(g => g.StandbyNode is { } standby && standby != g.Node);
        Assert.Equal(1_000, naive);
        Assert.Equal(12, network.LastInterval.NodeToNodeMessages);
        Assert.True(naive > 80 * network.LastInterval.NodeToNodeMessages);
    }

    [Fact]
    public void A_heartbeat_older_than_one_already_taken_is_ignored()
    {
        var master = new HeartbeatMaster("vios-a", ["vios-b"], Settings, Start);
        var incarnation = Start.ToUnixTimeMilliseconds();

        Assert.True(master.Receive(new AggregatedHeartbeat("vios-b", incarnation, 5, ["db"]), Start));
        Assert.False(master.Receive(new AggregatedHeartbeat("vios-b", incarnation, 4, []), Start.AddSeconds(1)));
        Assert.False(master.Receive(new AggregatedHeartbeat("vios-b", incarnation, 5, []), Start.AddSeconds(1)));

        Assert.Equal(["db"], master.LiveLparsOf("vios-b"));
        Assert.Equal(1, master.Counters.PeerHeartbeatsReceived);
    }

    [Fact]
    public void A_restarted_master_is_heard_although_its_sequence_starts_over()
    {
        var master = new HeartbeatMaster("vios-a", ["vios-b"], Settings, Start);
        var first = new HeartbeatMaster("vios-b", ["vios-a"], Settings, Start);
        for (var i = 0; i < 5; i++) master.Receive(first.Tick(Start.AddSeconds(i)).Heartbeat, Start.AddSeconds(i));

        var restarted = new HeartbeatMaster("vios-b", ["vios-a"], Settings, Start.AddSeconds(5));
        restarted.GuestHeartbeat("db", Start.AddSeconds(6));
        var heartbeat = restarted.Tick(Start.AddSeconds(6)).Heartbeat;

        Assert.Equal(1, heartbeat.Sequence);
        Assert.True(master.Receive(heartbeat, Start.AddSeconds(6)));
        Assert.Equal(GuestHealth.Live, master.HealthOf("db"));
    }

    [Fact]
    public void A_heartbeat_from_a_node_that_is_not_a_peer_is_ignored()
    {
        var master = new HeartbeatMaster("vios-a", ["vios-b"], Settings, Start);

        Assert.False(master.Receive(new AggregatedHeartbeat("vios-z", 1, 1, ["db"]), Start));

        Assert.Equal(GuestHealth.Unknown, master.HealthOf("db"));
        Assert.Equal(["vios-b"], master.Peers);
        Assert.Equal(["vios-b"], master.Tick(Start.AddSeconds(1)).To);
    }

    [Fact]
    public void A_silent_node_is_fenced_once_a_majority_of_the_masters_hold_it_silent_and_only_by_the_first_of_them()
    {
        var network = Network(4, 40);
        network.Advance(2);
        network.SilenceMaster("vios-d");

        // Each survivor holds d silent after the limit; the next round carries that in their heartbeats.
        network.Advance(Settings.NodeMissedIntervals + 1);
        Assert.All(new[] { "vios-a", "vios-b", "vios-c" }, n => Assert.Equal(["vios-d"], network[n].SilentPeers));
        network.Advance();
        Assert.Equal(["vios-d"], network["vios-a"].NodesToFence());
        Assert.Empty(network["vios-b"].NodesToFence());
        Assert.Empty(network["vios-c"].NodesToFence());
    }

    [Fact]
    public void A_node_the_cluster_downed_before_is_not_counted_so_the_survivors_of_the_next_kill_fence_it()
    {
        // d was killed and downed, not removed yet; then c is killed. a and b are 2 of 4 masters, but
        // d is fenced already: they are 2 of the 3 that count.
        var network = Network(4, 40);
        network.Advance(2);
        network.SilenceMaster("vios-d");
        network.SilenceMaster("vios-c");
        network.Advance(Settings.NodeMissedIntervals + 2);
        Assert.Empty(network["vios-a"].NodesToFence());

        network["vios-a"].PeerDowned("vios-d");
        network["vios-b"].PeerDowned("vios-d");

        Assert.Equal(["vios-c"], network["vios-a"].NodesToFence());
        Assert.Empty(network["vios-b"].NodesToFence());
        // Alone of the masters that count, a survivor still does not fence.
        var alone = Network(3, 30);
        alone.Advance(2);
        alone.SilenceMaster("vios-b");
        alone.SilenceMaster("vios-c");
        alone.Advance(Settings.NodeMissedIntervals + 2);
        alone["vios-a"].PeerDowned("vios-c");
        Assert.Empty(alone["vios-a"].NodesToFence());
    }

    [Fact]
    public void A_master_that_joined_after_the_silent_node_went_quiet_does_not_keep_the_others_from_fencing_it()
    {
        // a joined a moment ago and never heard d: it holds nobody silent, though it is first in node order.
        var b = new HeartbeatMaster("vios-b", ["vios-a", "vios-c", "vios-d"], Settings, Start);
        foreach (var peer in new[] { "vios-a", "vios-c", "vios-d" }) b.Receive(new AggregatedHeartbeat(peer, 1, 1, []), Start);
        var later = Start + Settings.Interval * (Settings.NodeMissedIntervals + 1);
        b.Receive(new AggregatedHeartbeat("vios-a", 1, 2, []), later);
        b.Receive(new AggregatedHeartbeat("vios-c", 1, 2, []) { SilentNodes = ["vios-d"] }, later);
        b.Tick(later);

        Assert.Equal(["vios-d"], b.SilentPeers);
        // b and c hold d silent, 2 of the 3 masters that hear each other; b is the first of those two.
        Assert.Equal(["vios-d"], b.NodesToFence());
    }

    [Fact]
    public void A_master_cut_off_from_the_others_fences_nobody_while_the_majority_fences_it()
    {
        var network = Network(3, 30);
        network.Advance(2);
        // a is cut off: it hears neither b nor c, and they do not hear it.
        network.SilenceMaster("vios-a");
        network.Advance(Settings.NodeMissedIntervals + 2);
        var isolated = new HeartbeatMaster("vios-a", ["vios-b", "vios-c"], Settings, Start);
        foreach (var peer in new[] { "vios-b", "vios-c" }) isolated.Receive(new AggregatedHeartbeat(peer, 1, 1, []), Start);
        isolated.Tick(Start.AddSeconds(10));

        Assert.Equal(["vios-b", "vios-c"], isolated.SilentPeers);
        Assert.Empty(isolated.NodesToFence());
        // b is first of the majority {b, c}, and both hold a silent.
        Assert.Equal(["vios-a"], network["vios-b"].NodesToFence());
        Assert.Empty(network["vios-c"].NodesToFence());
    }

    [Fact]
    public void Of_two_masters_the_survivor_does_not_fence_alone()
    {
        var network = Network(2, 10);
        network.Advance(2);
        network.SilenceMaster("vios-b");
        network.Advance(Settings.NodeMissedIntervals + 2);
        Assert.Equal(["vios-b"], network["vios-a"].SilentPeers);
        Assert.Empty(network["vios-a"].NodesToFence());
    }

    [Fact]
    public void A_peer_never_heard_is_not_reported_silent_however_long_it_takes_to_start()
    {
        var master = new HeartbeatMaster("vios-a", ["vios-b"], Settings, Start);
        var round = master.Tick(Start.AddMinutes(5));
        Assert.Empty(round.SilentNodes);
        Assert.Empty(master.NodesToFence());

        master.Receive(new AggregatedHeartbeat("vios-b", 1, 1, []), Start.AddMinutes(5));
        Assert.Empty(master.Tick(Start.AddMinutes(5).AddSeconds(3)).SilentNodes);
        Assert.Equal("vios-b", Assert.Single(master.Tick(Start.AddMinutes(5).AddSeconds(4)).SilentNodes).Node);
    }
}
