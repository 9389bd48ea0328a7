using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Loom.Engine;
using Loom.Engine.Sampling;

namespace Loom.Server.Generation;

/// <summary>
/// One HTTP request's work in the engine: one engine request per prompt, their outputs read as one stream tagged
/// with the prompt's index, and every unfinished engine request aborted when the call is disposed (the client left,
/// or the handler failed), so its KV blocks are freed at the engine's next step.
/// </summary>
internal sealed class EngineCall : IAsyncDisposable
{
    private readonly LlmEngine _engine;
    private readonly Request[] _requests;

    private EngineCall(LlmEngine engine, Request[] requests)
    {
        _engine = engine;
        _requests = requests;
    }

    public IReadOnlyList<Request> Requests => _requests;

    /// <summary>
    /// Submits every prompt under ids <c>{id}-{index}</c>. If one is refused (bad prompt, queue full) the ones already
    /// submitted are aborted and the exception propagates.
    /// </summary>
    public static EngineCall Submit(LlmEngine engine, IReadOnlyList<int[]> prompts, SamplingParams p, string id)
    {
        var requests = new List<Request>(prompts.Count);
        try
        {
            for (int i = 0; i < prompts.Count; i++) requests.Add(engine.AddRequest(prompts[i], p, $"{id}-{i}"));
        }
        catch
        {
            foreach (var r in requests) engine.Abort(r.Id);
            throw;
        }
        return new EngineCall(engine, requests.ToArray());
    }

    /// <summary>Every output of every prompt, in the order the engine produced them.</summary>
    public async IAsyncEnumerable<(int Prompt, RequestOutput Output)> ReadAllAsync([EnumeratorCancellation] CancellationToken ct)
    {
        if (_requests.Length == 1)
        {
            await foreach (var o in _requests[0].Outputs(ct)) yield return (0, o);
            yield break;
        }
        var merged = Channel.CreateUnbounded<(int, RequestOutput)>(new UnboundedChannelOptions { SingleReader = true });
        var pumps = _requests.Select((r, i) => Pump(r, i, merged.Writer, ct)).ToArray();
        _ = Task.WhenAll(pumps).ContinueWith(t => merged.Writer.TryComplete(t.Exception?.InnerException), TaskScheduler.Default);
        await foreach (var item in merged.Reader.ReadAllAsync(ct)) yield return item;
    }

    private static async Task Pump(Request r, int index, ChannelWriter<(int, RequestOutput)> writer, CancellationToken ct)
    {
        await foreach (var o in r.Outputs(ct)) await writer.WriteAsync((index, o), ct);
    }

    public ValueTask DisposeAsync()
    {
        foreach (var r in _requests)
            if (!r.IsFinished) _engine.Abort(r.Id);
        return ValueTask.CompletedTask;
    }
}
