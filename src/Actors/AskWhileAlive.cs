using Akka.Actor;

namespace Vios.Actors;

/// <summary>
/// An ask that fails as soon as the target stops, instead of waiting out the timeout. Used where a
/// dead target means a broken node (a persistent actor whose journal refused it), so the operator
/// learns it at once.
/// </summary>
public static class AskWhileAlive
{
    public static Task<T> AskWhileAliveAsync<T>(this IActorRefFactory factory, IActorRef target, object message, TimeSpan timeout)
    {
        var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        factory.ActorOf(Props.Create(() => new Asker<T>(target, message, timeout, completion)));
        return completion.Task;
    }

    private sealed class Asker<T> : ReceiveActor
    {
        public Asker(IActorRef target, object message, TimeSpan timeout, TaskCompletionSource<T> completion)
        {
            Context.Watch(target);
            Context.SetReceiveTimeout(timeout);
            target.Tell(message);
            Receive<T>(reply => Finish(() => completion.TrySetResult(reply)));
            Receive<Terminated>(t => Finish(() => completion.TrySetException(
                new InvalidOperationException($"{t.ActorRef.Path.Name} stopped before it replied"))));
            Receive<ReceiveTimeout>(_ => Finish(() => completion.TrySetException(
                new TimeoutException($"{target.Path.Name} did not reply within {timeout.TotalSeconds:0.#} s"))));
        }

        private void Finish(Action complete)
        {
            complete();
            Context.Stop(Self);
        }
    }
}
