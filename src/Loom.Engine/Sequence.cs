using Loom.Engine.Sampling;
using Loom.Engine.Speculative;

namespace Loom.Engine;

/// <summary>Where a sequence is in its life.</summary>
public enum SequenceStatus { Waiting, Running, Finished }

/// <summary>Why a sequence stopped, in OpenAI's words.</summary>
public enum FinishReason { Stop, Length, Abort, Error }

/// <summary>
/// One generated stream: the prompt, the tokens produced so far, the KV blocks holding their keys and values,
/// and the per-sequence sampling state. <see cref="ComputedTokens"/> counts the tokens already in the cache;
/// the rest (a prompt not yet prefilled, or the last sampled token) still need a forward pass.
/// </summary>
public sealed class Sequence
{
    private int[] _tokens;
    private int[] _blocks = new int[4];

    internal Sequence(long id, Request request, int index, ReadOnlySpan<int> prompt, Sampler sampler, SequenceText? text)
    {
        Id = id;
        Request = request;
        Index = index;
        PromptLength = prompt.Length;
        _tokens = new int[Math.Max(16, prompt.Length + Math.Min(request.Params.MaxTokens, 4096))];
        prompt.CopyTo(_tokens);
        Length = prompt.Length;
        Sampler = sampler;
        Text = text;
    }

    public long Id { get; }
    public Request Request { get; }
    /// <summary>Which of the request's n choices this is.</summary>
    public int Index { get; }
    public SamplingParams Params => Request.Params;
    public SequenceStatus Status { get; internal set; } = SequenceStatus.Waiting;
    public FinishReason? FinishReason { get; internal set; }
    public int PromptLength { get; }
    /// <summary>Prompt plus generated tokens.</summary>
    public int Length { get; private set; }
    public int OutputLength => Length - PromptLength;
    public ReadOnlySpan<int> Tokens => _tokens.AsSpan(0, Length);
    public ReadOnlySpan<int> PromptTokens => _tokens.AsSpan(0, PromptLength);
    public ReadOnlySpan<int> OutputTokens => _tokens.AsSpan(PromptLength, OutputLength);
    /// <summary>
    /// A view of tokens for an output. Appending never rewrites a written position (growing copies to a new
    /// array and leaves the old one), so the view stays valid on the consumer's thread.
    /// </summary>
    internal ReadOnlyMemory<int> TokenView(int start, int count) => _tokens.AsMemory(start, count);
    /// <summary>Tokens whose K/V are in the cache.</summary>
    public int ComputedTokens { get; internal set; }
    /// <summary>Prompt tokens whose K/V came from the prefix cache rather than a forward pass.</summary>
    public int CachedPromptTokens { get; internal set; }

    internal Sampler Sampler { get; }
    /// <summary>
    /// Where the output is in its constraint's language (null when unconstrained). It advances with every accepted
    /// token and lives as long as the sequence: preemption keeps the output tokens and so the state that matches them.
    /// </summary>
    internal Structured.GrammarMatcher? Matcher { get; init; }

    /// <summary>This step's constraint mask, when the engine computed it ahead of sampling (<see cref="AllowedReady"/>).</summary>
    internal ulong[]? Allowed;

    /// <summary><see cref="Allowed"/> holds the mask for the coming sample.</summary>
    internal bool AllowedReady;
    /// <summary>Its text as generated; null for a sequence that only schedules (tests of the block manager and scheduler).</summary>
    internal SequenceText? Text { get; }

    // One block table per KV cache group (BlockManager's groups: the full-attention layers', then the sliding
    // layers' when they have a pool of their own). Every table covers the same positions, block i holding positions
    // i·BlockSize..; a sliding table's leading entries past its window point to its pool's null block.
    private readonly int[][] _tables = [new int[4], []];
    private readonly int[] _counts = new int[2], _released = new int[2];

    /// <summary>KV block table of the first group (the only one unless sliding layers have a pool): block ids in position order.</summary>
    internal int[] BlockArray => _tables[0];
    public int BlockCount => _counts[0];
    public ReadOnlySpan<int> Blocks => _tables[0].AsSpan(0, _counts[0]);

    /// <summary>Group <paramref name="group"/>'s table as the batch reads it.</summary>
    internal int[] TableArray(int group) => _tables[group];
    /// <summary>Group <paramref name="group"/>'s table; released entries are the null block.</summary>
    public ReadOnlySpan<int> Table(int group) => _tables[group].AsSpan(0, _counts[group]);
    /// <summary>Leading entries of group <paramref name="group"/>'s table released (out of every sliding layer's window).</summary>
    public int ReleasedBlocks(int group) => _released[group];
    internal void SetReleased(int group, int count) => _released[group] = count;

    internal void AddBlock(int block) => AddBlock(0, block);

    internal void AddBlock(int group, int block)
    {
        ref int[] t = ref _tables[group];
        if (_counts[group] == t.Length) Array.Resize(ref t, Math.Max(4, t.Length * 2));
        t[_counts[group]++] = block;
    }

    /// <summary>Tokens it holds without growing: its prompt and its length limit (capped at 4,096 new tokens).</summary>
    internal int TokenCapacity => _tokens.Length;

    /// <summary>Makes room in group <paramref name="group"/>'s table for <paramref name="blocks"/> blocks.</summary>
    internal void ReserveBlocks(int group, int blocks)
    {
        ref int[] t = ref _tables[group];
        if (t.Length < blocks) Array.Resize(ref t, blocks);
    }

    internal void ReplaceBlock(int group, int index, int block) => _tables[group][index] = block;

    /// <summary>Drops the last block of a table (the caller releases it).</summary>
    internal int RemoveLastBlock(int group) => _tables[group][--_counts[group]];

    /// <summary>Its draft and acceptance when the engine speculates and the request did not opt out; else null.</summary>
    internal SpeculationState? Speculation { get; init; }

    /// <summary>The request's other sequences, waiting to share this one's prompt blocks once its prefill is done (n &gt; 1).</summary>
    internal List<Sequence>? PendingForks { get; set; }

    internal void ClearBlocks()
    {
        Array.Clear(_counts);
        Array.Clear(_released);
    }

    internal void Append(int token)
    {
        if (Length == _tokens.Length) Array.Resize(ref _tokens, _tokens.Length * 2);
        _tokens[Length++] = token;
    }

    public override string ToString() => $"seq {Id} ({Status}, {PromptLength}+{OutputLength} tokens, {ComputedTokens} computed)";
}
