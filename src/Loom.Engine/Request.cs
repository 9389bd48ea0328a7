using System.Threading.Channels;
using Loom.Engine.Sampling;

namespace Loom.Engine;

/// <summary>
/// A submitted request: its prompt, parameters, the n sequences generating for it, and the channel its
/// outputs stream through. Reading <see cref="Outputs"/> is how a caller follows it; <see cref="LlmEngine.Abort"/> ends it.
/// </summary>
public sealed class Request
{
    private readonly Channel<RequestOutput> _channel = Channel.CreateUnbounded<RequestOutput>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    internal Request(string id, int[] prompt, SamplingParams p, int priority)
    {
        Id = id;
        Prompt = prompt;
        Params = p;
        Priority = priority;
        ArrivalTime = DateTime.UtcNow;
    }

    public string Id { get; }
    public int[] Prompt { get; }
    public SamplingParams Params { get; }
    /// <summary>The compiled <see cref="SamplingParams.Constraint"/>, or null.</summary>
    internal Structured.CompiledConstraint? Constraint { get; init; }
    /// <summary>Lower runs first among waiting requests; ties keep arrival order.</summary>
    public int Priority { get; }
    public DateTime ArrivalTime { get; }
    public List<Sequence> Sequences { get; } = [];
    public bool IsFinished { get; internal set; }

    /// <summary>The request's outputs as the engine produces them; completes when every sequence has finished.</summary>
    public IAsyncEnumerable<RequestOutput> Outputs(CancellationToken ct = default) => _channel.Reader.ReadAllAsync(ct);

    internal void Emit(in RequestOutput o) => _channel.Writer.TryWrite(o);

    /// <summary>Takes the next output if one is ready, without waiting (for callers that step the engine themselves).</summary>
    public bool TryReadOutput(out RequestOutput o) => _channel.Reader.TryRead(out o);

    internal void Complete(Exception? error = null) => _channel.Writer.TryComplete(error);
}

/// <summary>
/// One step's worth of output for one sequence of a request. A value, not an object, and its tokens and text are views
/// of the sequence's own buffers, so the engine emits it without allocating; <see cref="Text"/> makes a string when read.
/// </summary>
public readonly record struct RequestOutput
{
    public required string RequestId { get; init; }
    /// <summary>Which of the n choices.</summary>
    public required int Index { get; init; }
    public ReadOnlyMemory<int> TokenIds { get; init; }
    /// <summary>Text completed by these tokens (held back while it could still become a stop string).</summary>
    public ReadOnlyMemory<char> Delta { get; init; }
    /// <summary><see cref="Delta"/> as a string.</summary>
    public string Text => Delta.ToString();
    /// <summary>Log-probabilities of the new tokens, when asked for.</summary>
    public IReadOnlyList<TokenLogprob>? Logprobs { get; init; }
    public FinishReason? FinishReason { get; init; }
    /// <summary>The stop string or token that ended the sequence, if any.</summary>
    public string? StopReason { get; init; }
    public int PromptTokens { get; init; }
    public int CachedPromptTokens { get; init; }
    public int CompletionTokens { get; init; }
    /// <summary>Speculative draft tokens verified for this sequence so far (0 when it does not speculate).</summary>
    public int SpeculativeDraftTokens { get; init; }
    /// <summary>Of those, the ones the target accepted.</summary>
    public int SpeculativeAcceptedTokens { get; init; }
}

/// <summary>A sampled token's log-probability and the most likely alternatives at that position.</summary>
public sealed record TokenLogprob(int TokenId, float Logprob, IReadOnlyList<(int TokenId, float Logprob)> Top);
