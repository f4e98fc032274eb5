namespace Vios.Actors;

/// <summary>
/// The journal and snapshot-store plugins of cluster-wide state, by what they hold; each database's
/// hocon (<c>hocon/persistence.sqlite.hocon</c>, <c>hocon/persistence.postgres.hocon</c>) binds them.
/// A node's own state (boot log, WPAR images of the node) has its local plugins, the defaults.
/// </summary>
public static class PersistencePlugins
{
    /// <summary>Checkpoint images, replicas' images, WPAR images and the cluster's identity: cluster-wide, large and frequent.</summary>
    public const string ClusterJournal = "vios.persistence.cluster.journal";

    public const string ClusterSnapshots = "vios.persistence.cluster.snapshot-store";

    /// <summary>
    /// The control plane's journal (the partition manager's and HA manager's events), apart from the
    /// images' so a large image never holds a manager's write (issue 19); cluster-wide like the images' journal.
    /// </summary>
    public const string ControlJournal = "vios.persistence.control.journal";

    public const string ControlSnapshots = "vios.persistence.control.snapshot-store";
}
