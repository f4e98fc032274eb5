using System.Diagnostics;
using Vios.Host.Node;
using Vios.Testing;

namespace Vios.Host.Tests.Node;

/// <summary>
/// Power fencing on one machine (<see cref="LocalProcessFence"/>): which recorded process of a downed
/// member is killed, and a real one killed. No cluster: the actor only calls <see cref="LocalProcessFence.KillDowned"/>.
/// </summary>
public sealed class LocalProcessFenceSpecs
{
    private const string Address = "akka.tcp://vios@127.0.0.1:40121";

    [Fact]
    public void A_record_round_trips_and_a_torn_or_foreign_file_is_no_record()
    {
        var record = new ProcessRecord(4242, 987654, Address, -1234567);

        Assert.Equal(record, LocalProcessFence.Parse(LocalProcessFence.Format(record)));
        Assert.Null(LocalProcessFence.Parse("4242 98765"));
        Assert.Null(LocalProcessFence.Parse(""));
        Assert.Null(LocalProcessFence.Parse($"-1 987654 {Address} 7"));
        Assert.Null(LocalProcessFence.Parse($"4242 soon {Address} 7"));
        Assert.Equal("vios_127.0.0.1_40121.process", Path.GetFileName(LocalProcessFence.FileFor("/x", Address)));
    }

    [Fact]
    public void The_start_time_is_field_22_counted_after_the_last_parenthesis_of_the_command_name()
    {
        // The command name may hold spaces and parentheses.
        const string stat = "4242 (vios (node) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 12 0 987654 1000000 500";

        Assert.Equal(987654L, LocalProcessFence.StartTicksOf(stat));
        Assert.Null(LocalProcessFence.StartTicksOf("4242 (vios) S 1 2"));
        Assert.Null(LocalProcessFence.StartTicksOf("no parenthesis"));
        Assert.NotNull(LocalProcessFence.StartTicks(Environment.ProcessId));
    }

    [Fact]
    public void Only_the_recorded_incarnation_still_running_as_recorded_in_another_process_is_killed()
    {
        var record = new ProcessRecord(4242, 987654, Address, 7);

        Assert.Equal(LocalFenceVerdict.Kill, LocalProcessFence.Decide(record, Address, 7, 987654, selfPid: 1));
        Assert.Equal(LocalFenceVerdict.NoRecord, LocalProcessFence.Decide(null, Address, 7, 987654, selfPid: 1));
        Assert.Equal(LocalFenceVerdict.NoRecord, LocalProcessFence.Decide(record with { Address = "akka.tcp://vios@127.0.0.1:1" }, Address, 7, 987654, selfPid: 1));
        // The node started again at the same address: the downed incarnation is not the one recorded now.
        Assert.Equal(LocalFenceVerdict.Gone, LocalProcessFence.Decide(record, Address, 8, 987654, selfPid: 1));
        // Its pid now belongs to a process started later, or to none.
        Assert.Equal(LocalFenceVerdict.Gone, LocalProcessFence.Decide(record, Address, 7, 999999, selfPid: 1));
        Assert.Equal(LocalFenceVerdict.Gone, LocalProcessFence.Decide(record, Address, 7, null, selfPid: 1));
        // An in-process cluster: every member is this process.
        Assert.Equal(LocalFenceVerdict.ThisProcess, LocalProcessFence.Decide(record, Address, 7, 987654, selfPid: 4242));
    }

    [Fact]
    public async Task A_recorded_process_that_is_frozen_is_killed_once_and_a_second_try_finds_it_gone()
    {
        using var directory = new TempDirectory();
        using var sleeper = System.Diagnostics.Process.Start(new ProcessStartInfo("sleep", "600") { UseShellExecute = false })!;
        // Frozen as a SIGSTOPped node is: SIGKILL ends it all the same.
        Assert.Equal(0, Signal(sleeper.Id, 19));
        File.WriteAllText(LocalProcessFence.FileFor(directory.Path, Address),
            LocalProcessFence.Format(new ProcessRecord(sleeper.Id, LocalProcessFence.StartTicks(sleeper.Id)!.Value, Address, 7)));

        Assert.Equal((LocalFenceVerdict.Gone, sleeper.Id), LocalProcessFence.KillDowned(directory.Path, Address, uid: 8));
        Assert.False(sleeper.HasExited);
        Assert.Equal((LocalFenceVerdict.Kill, sleeper.Id), LocalProcessFence.KillDowned(directory.Path, Address, uid: 7));
        await sleeper.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(137, sleeper.ExitCode);
        Assert.Equal((LocalFenceVerdict.Gone, sleeper.Id), LocalProcessFence.KillDowned(directory.Path, Address, uid: 7));
        Assert.Equal((LocalFenceVerdict.NoRecord, (int?)null), LocalProcessFence.KillDowned(directory.Path, "akka.tcp://vios@127.0.0.1:1", uid: 7));
    }

    [Fact]
    public void This_process_records_itself_and_is_never_killed_by_its_own_record()
    {
        using var directory = new TempDirectory();

        LocalProcessFence.Record(directory.Path, Address, 7);

        var record = LocalProcessFence.Parse(File.ReadAllText(LocalProcessFence.FileFor(directory.Path, Address)));
        Assert.Equal((Environment.ProcessId, LocalProcessFence.StartTicks(Environment.ProcessId)), (record!.Pid, (long?)record.StartTicks));
        Assert.Equal(LocalFenceVerdict.ThisProcess, LocalProcessFence.KillDowned(directory.Path, Address, 7).Verdict);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Signal(int pid, int signal);
}

/// <summary><c>vios.node.kill-downed-local-processes</c> as the node reads it, and what a bad value says.</summary>
public sealed class LocalProcessFenceSettingsSpecs
{
    private static NodeSettings Read(string hocon) =>
        NodeSettings.FromConfig(Akka.Configuration.ConfigurationFactory.ParseString(hocon + "\nvios.node.data-directory = \"/tmp/x\""));

    [Fact]
    public void The_setting_defaults_to_auto_and_a_value_that_is_not_auto_on_or_off_is_refused_by_name()
    {
        Assert.Equal("auto", Read("").KillDownedLocalProcesses);
        Assert.Equal("off", Read("vios.node.kill-downed-local-processes = off").KillDownedLocalProcesses);
        var refused = Assert.Throws<Akka.Configuration.ConfigurationException>(() => Read("vios.node.kill-downed-local-processes = always"));
        Assert.Equal("vios.node.kill-downed-local-processes must be auto, on or off; got 'always'", refused.Message);
    }
}
