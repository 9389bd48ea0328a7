namespace Loom.Engine.Sampling;

/// <summary>
/// Every token of a logits row was excluded (NaN or negative infinity after the processors), so there is nothing
/// to sample. It means the model produced no usable number for this step; the engine fails the request with it.
/// </summary>
public sealed class NoSamplableTokenException : InvalidOperationException
{
    public NoSamplableTokenException()
        : base("Every token's logit is NaN or negative infinity; there is nothing to sample (the model produced no usable logits).") { }
}
