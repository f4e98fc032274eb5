namespace Vios.Actors;

/// <summary>
/// Marker for every message, event and snapshot of ours. <c>hocon/vios.hocon</c> binds it to
/// <c>ViosSerializer</c>, so nothing of ours crosses the wire or reaches the journal through
/// Akka's default (Newtonsoft) serializer. A type implementing it must also be listed in a
/// <see cref="Serialization.MessageCatalog"/>, under a stable manifest.
/// </summary>
public interface IViosMessage;
