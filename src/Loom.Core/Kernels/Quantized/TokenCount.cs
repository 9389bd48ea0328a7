namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// How many tokens (1 to 4) a packed kernel's multi-token body serves, as a type: the body is written once for four
/// and each token's work is guarded by <c>T.N &gt; t</c>, which the JIT folds in each value-type instantiation, so
/// the two- and three-token forms carry no unused lanes and every token is computed exactly as in the four-token form.
/// </summary>
internal interface ITokenCount
{
    static abstract int N { get; }
}

internal readonly struct TwoTokens : ITokenCount { public static int N => 2; }

internal readonly struct ThreeTokens : ITokenCount { public static int N => 3; }

internal readonly struct FourTokens : ITokenCount { public static int N => 4; }
