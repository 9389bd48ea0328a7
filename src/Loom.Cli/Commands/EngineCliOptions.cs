using System.CommandLine;
using Loom.Engine;
using Loom.Engine.Speculative;

namespace Loom.Cli.Commands;

/// <summary>
/// Engine sizing and policy options shared by <c>loom run</c>, <c>loom bench throughput</c> and <c>loom serve</c>:
/// KV cache memory, sequence and token limits per step, prefix caching and chunked prefill.
/// </summary>
internal sealed class EngineCliOptions
{
    public Option<KvCacheBudget?> KvCacheMemory { get; } = new("--kv-cache-memory")
    {
        Description = "KV cache size: bytes (2GiB, 512MiB, 1.5GB) or a fraction of available memory (0.3). Default 0.25",
        CustomParser = result =>
        {
            try { return KvCacheBudget.Parse(result.Tokens.Count > 0 ? result.Tokens[0].Value : ""); }
            catch (ArgumentException e) { result.AddError(e.Message); return null; }
        },
    };

    public Option<string> KvCacheDtype { get; } = CreateKvCacheDtype();

    private static Option<string> CreateKvCacheDtype()
    {
        var o = new Option<string>("--kv-cache-dtype") { Description = "KV cache element type: f16 (exact, as llama.cpp) or int8 (about half the memory)", DefaultValueFactory = _ => "f16" };
        o.AcceptOnlyFromAmong("f16", "int8");
        return o;
    }

    public Option<int?> MaxNumSeqs { get; } = new Option<int?>("--max-num-seqs") { Description = "Most sequences running at once (default 64)" }.InRange(1);

    public Option<int?> MaxNumBatchedTokens { get; } = new Option<int?>("--max-num-batched-tokens") { Description = "Most tokens in one forward pass, decodes plus prompt chunks (default 512)" }.InRange(1);

    public Option<bool> NoPrefixCaching { get; } = new("--no-prefix-caching") { Description = "Do not reuse the KV blocks of earlier prompts with the same prefix" };

    public Option<bool> NoChunkedPrefill { get; } = new("--no-chunked-prefill") { Description = "Prefill each prompt in one piece instead of in chunks that share steps with decodes" };

    public Option<string?> Speculative { get; } = CreateSpeculative();

    private static Option<string?> CreateSpeculative()
    {
        return new Option<string?>("--speculative")
        {
            Description = "Speculative decoding: ngram (prompt lookup: propose what followed the latest earlier occurrence of the last tokens) "
                + "or layers:N (the model's first N layers and its own head draft for it). Output is unchanged",
        };
    }

    public Option<string?> DraftModel { get; } = new("--draft-model") { Description = "Speculative decoding with a separate, smaller draft model with the same vocabulary (a model file or directory)" };

    public Option<int?> NumSpeculativeTokens { get; } = new Option<int?>("--num-speculative-tokens") { Description = "Most draft tokens per sequence and step (default 5; each sequence adapts below it to its acceptance)" }.InRange(1, 32);

    public Option<int?> NgramMin { get; } = new Option<int?>("--speculative-ngram-min") { Description = "Shortest suffix the n-gram proposer matches (default 1)" }.InRange(1, 64);

    public Option<int?> NgramMax { get; } = new Option<int?>("--speculative-ngram-max") { Description = "Longest suffix the n-gram proposer matches (default 4)" }.InRange(1, 64);

    public Option<int?> SpeculativeMaxBatchTokens { get; } = new Option<int?>("--speculative-max-batch-tokens") { Description = "Back-off cap: a step never runs more decode plus draft tokens than this (default 32); below it the measured step cost decides" }.InRange(1);

    public Option<bool> NoBackOff { get; } = new("--speculative-no-backoff") { Description = "Verify every proposed draft token (within the cap) whatever the measured pass cost: measures speculation itself" };

    public Option<string?> DraftSampling { get; } = CreateDraftSampling();

    private static Option<string?> CreateDraftSampling()
    {
        var o = new Option<string?>("--speculative-draft-sampling")
        {
            Description = "How layers:N and --draft-model draft for requests that sample: greedy (default; its argmax: a seeded request gets the plain run's tokens) "
                + "or sample (drawn from the draft's processed distribution and verified by the speculative-sampling rule: accepted more often, "
                + "the output follows the model's distribution but is not the plain run's, and a seed reproduces it only with --speculative-no-backoff)",
        };
        o.AcceptOnlyFromAmong("sample", "greedy");
        return o;
    }

    public IEnumerable<Option> All => [KvCacheMemory, KvCacheDtype, MaxNumSeqs, MaxNumBatchedTokens, NoPrefixCaching, NoChunkedPrefill,
        Speculative, DraftModel, NumSpeculativeTokens, NgramMin, NgramMax, SpeculativeMaxBatchTokens, NoBackOff, DraftSampling];

    /// <summary>Adds the options to a command.</summary>
    public void AddTo(Command command)
    {
        foreach (var o in All) command.Options.Add(o);
    }

    /// <summary>
    /// The engine options the command line asks for, starting from <paramref name="defaults"/> (command-specific
    /// defaults such as one sequence for <c>run</c>). Throws <see cref="ArgumentException"/> when they do not validate.
    /// </summary>
    public EngineOptions Apply(ParseResult parse, EngineOptions defaults)
    {
        var o = defaults;
        if (parse.GetValue(KvCacheMemory) is { } budget) o = budget.ApplyTo(o);
        if (parse.GetValue(KvCacheDtype) == "int8") o = o with { KvCacheDtype = Models.Architectures.KvCacheType.Int8 };
        if (parse.GetValue(MaxNumSeqs) is int seqs) o = o with { MaxNumSeqs = seqs };
        if (parse.GetValue(MaxNumBatchedTokens) is int tokens) o = o with { MaxNumBatchedTokens = tokens };
        else if (o.MaxNumBatchedTokens < o.MaxNumSeqs) o = o with { MaxNumBatchedTokens = o.MaxNumSeqs };
        if (parse.GetValue(NoPrefixCaching)) o = o with { PrefixCaching = false };
        if (parse.GetValue(NoChunkedPrefill)) o = o with { ChunkedPrefill = false };
        o = ApplySpeculative(parse, o);
        try { o.Validate(); }
        catch (ArgumentOutOfRangeException e) { throw new ArgumentException(e.Message.Split(" (Parameter")[0]); }
        return o;
    }

    private EngineOptions ApplySpeculative(ParseResult parse, EngineOptions o) =>
        ParseSpeculative(parse) is { } s ? o with { Speculative = s } : o;

    /// <summary>The speculative-decoding options alone, for commands that take no other engine option (<c>loom bench</c>).</summary>
    public IEnumerable<Option> SpeculativeAll => [Speculative, DraftModel, NumSpeculativeTokens, NgramMin, NgramMax, SpeculativeMaxBatchTokens, NoBackOff, DraftSampling];

    /// <summary>
    /// The speculative decoding the command line asks for, null for none. Loads the draft model, which stays loaded
    /// for the command's life, as the engine does.
    /// </summary>
    public SpeculativeOptions? ParseSpeculative(ParseResult parse)
    {
        var draftPath = parse.GetValue(DraftModel);
        if (draftPath is not null && parse.GetValue(Speculative) is not null) throw new ArgumentException("--draft-model and --speculative name two ways to draft: give one");
        if (parse.GetValue(Speculative) is not { } method && draftPath is null)
        {
            foreach (var dependent in new Option[] { NumSpeculativeTokens, NgramMin, NgramMax, SpeculativeMaxBatchTokens, NoBackOff, DraftSampling })
                if (parse.GetResult(dependent) is { Implicit: false }) throw new ArgumentException($"{dependent.Name} needs --speculative or --draft-model");
            return null;
        }
        var s = draftPath is not null
            ? new SpeculativeOptions { Method = SpeculativeMethod.DraftModel, DraftModel = Models.ModelLoader.Load(draftPath) }
            : SpeculativeOptions.Parse(parse.GetValue(Speculative)!);
        if (parse.GetValue(NumSpeculativeTokens) is int k) s = s with { NumTokens = k };
        if (parse.GetValue(NgramMin) is int min) s = s with { NgramMin = min, NgramMax = Math.Max(min, s.NgramMax) };
        if (parse.GetValue(NgramMax) is int max) s = s with { NgramMax = max };
        if (parse.GetValue(SpeculativeMaxBatchTokens) is int cap) s = s with { MaxBatchTokens = cap };
        if (parse.GetValue(NoBackOff)) s = s with { BackOff = false };
        if (parse.GetValue(DraftSampling) is { } sampling) s = s with { DraftSampling = SpeculativeOptions.ParseDraftSampling(sampling) };
        return s;
    }
}
