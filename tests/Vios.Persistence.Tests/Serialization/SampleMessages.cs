using System.Collections;
using System.Reflection;

namespace Vios.Persistence.Tests.Serialization;

/// <summary>
/// Builds a populated instance of any of our message types from its widest public constructor, so
/// the coverage test needs no hand-written sample per type and picks up new types by itself.
/// Every field gets a non-default value, so a codec that drops a field fails the round trip.
/// </summary>
public static class SampleMessages
{
    private static readonly DateTimeOffset Moment = new(2026, 11, 22, 21, 59, 0, TimeSpan.Zero);

    public static object Create(Type type, int depth = 0)
    {
        if (depth > 10) throw new InvalidOperationException($"{type.Name} nests too deeply for a sample");
        if (Nullable.GetUnderlyingType(type) is { } underlying) return Create(underlying, depth + 1);
        if (type == typeof(string)) return "sample";
        if (type == typeof(bool)) return true;
        if (type == typeof(byte)) return (byte)7;
        if (type == typeof(short)) return (short)7;
        if (type == typeof(ushort)) return (ushort)7;
        if (type == typeof(int)) return 7;
        if (type == typeof(uint)) return 7u;
        if (type == typeof(long)) return 7L;
        if (type == typeof(ulong)) return 7UL;
        if (type == typeof(double)) return 1.5;
        if (type == typeof(float)) return 1.5f;
        if (type == typeof(decimal)) return 1.5m;
        if (type == typeof(Guid)) return new Guid("0f8fad5b-d9cb-469f-a165-70867728950e");
        if (type == typeof(DateTimeOffset)) return Moment;
        if (type == typeof(DateTime)) return Moment.UtcDateTime;
        if (type == typeof(TimeSpan)) return TimeSpan.FromMilliseconds(1500);
        if (type == typeof(byte[])) return new byte[] { 1, 2, 3, 0, 255 };
        if (type == typeof(ReadOnlyMemory<byte>)) return new ReadOnlyMemory<byte>([1, 2, 3, 0, 255]);
        // A frame's header and sub-header must agree (flags and entries), which field-by-field filling cannot know.
        if (type == typeof(Vios.Actors.Protocol.ViosFrame))
            return Vios.Actors.Cluster.Frames.Send(7, 9, "sample-sender", "sample-receiver", new byte[] { 1, 2, 3, 0, 255 }, responseRequired: true, TimeSpan.FromSeconds(2));
        // A chunk holds whole pages, one per frame, which field-by-field filling cannot know.
        if (type == typeof(Vios.Actors.Checkpoint.ImageChunk))
        {
            var data = Enumerable.Range(0, 2 * Vios.Actors.Memory.GuestMemory.PageSize).Select(i => (byte)i).ToArray();
            uint[] frames = [3, 9];
            return new Vios.Actors.Checkpoint.ImageChunk(7, 1, frames, data, Vios.Actors.Checkpoint.ImageChecksum.OfChunk(7, frames, data));
        }
        if (type.IsEnum) return Enum.GetValues(type).Cast<object>().Last();
        if (type.IsArray)
        {
            var array = Array.CreateInstance(type.GetElementType()!, 2);
            for (var i = 0; i < 2; i++) array.SetValue(Create(type.GetElementType()!, depth + 1), i);
            return array;
        }
        if (type.IsGenericType && IsListLike(type.GetGenericTypeDefinition()))
        {
            var element = type.GetGenericArguments()[0];
            var list = (IList)Activator.CreateInstance(typeof(List<>).MakeGenericType(element))!;
            list.Add(Create(element, depth + 1));
            list.Add(Create(element, depth + 1));
            return list;
        }
        if (type.IsGenericType && IsDictionaryLike(type.GetGenericTypeDefinition()))
        {
            var (key, value) = (type.GetGenericArguments()[0], type.GetGenericArguments()[1]);
            var dictionary = (IDictionary)Activator.CreateInstance(typeof(Dictionary<,>).MakeGenericType(key, value))!;
            dictionary.Add(Create(key, depth + 1), Create(value, depth + 1));
            return dictionary;
        }

        var constructor = type.GetConstructors(BindingFlags.Public | BindingFlags.Instance)
            .OrderByDescending(c => c.GetParameters().Length)
            .FirstOrDefault()
            ?? throw new InvalidOperationException($"{type.Name} has no public constructor to build a sample with");
        return constructor.Invoke(constructor.GetParameters().Select(p => Create(p.ParameterType, depth + 1)).ToArray());
    }

    private static bool IsListLike(Type definition) =>
        definition == typeof(IReadOnlyList<>) || definition == typeof(IList<>) || definition == typeof(List<>)
        || definition == typeof(IEnumerable<>) || definition == typeof(IReadOnlyCollection<>) || definition == typeof(ICollection<>);

    private static bool IsDictionaryLike(Type definition) =>
        definition == typeof(IReadOnlyDictionary<,>) || definition == typeof(IDictionary<,>) || definition == typeof(Dictionary<,>);
}
