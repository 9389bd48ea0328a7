namespace Loom.Engine.Speculative;

/// <summary>
/// Guesses the tokens that follow a sequence, for the target model to verify in one forward pass. A proposal is a
/// deterministic function of the tokens so far (a point-mass draft distribution q), which is what lets verification
/// keep the target's distribution exactly by sampling each position from the target and comparing (see
/// <see cref="SpeculativeDecoder"/>). One proposer serves every sequence of an engine, on the engine thread.
/// </summary>
public interface ISpeculativeProposer
{
    /// <summary>
    /// Writes up to <paramref name="draft"/>.Length tokens that likely follow <paramref name="tokens"/> (prompt and
    /// output so far) into <paramref name="draft"/>; returns how many (0: no guess). <paramref name="kind"/> names the
    /// evidence behind the guess, 0 … <see cref="SpeculationState.Kinds"/> − 1 (n-gram lookup: the matched suffix's
    /// length): guesses of one kind are accepted at a rate of their own, which each sequence tracks for the back-off.
    /// Must not allocate.
    /// </summary>
    int Propose(ReadOnlySpan<int> tokens, Span<int> draft, out int kind);
}
