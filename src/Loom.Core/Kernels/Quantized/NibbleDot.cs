namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// A packed tile's integer sums (one row per 32-bit lane) over at most eight chunks of 4-bit quants (≤ 15) against
/// broadcast activation bytes. With VNNI each chunk is one vpdpbusd into i32. With AVX2 alone each chunk is one
/// vpmaddubsw whose i16 pair sums are added up as they are (8 · 2·15·128 &lt; 32768, so nothing saturates) and
/// widened once at <see cref="Sum"/>: half the multiplies of widening every chunk. ARM64 goes through
/// <see cref="TileMath.Dot4(Vector256{int}, Vector256{byte}, Vector256{sbyte})"/>.
/// </summary>
internal unsafe struct NibbleDot
{
    private Vector256<int> _wide;
    private Vector256<short> _narrow;

    /// <summary>Sums that start at <paramref name="start"/> (an offset correction, or zero).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public NibbleDot(Vector256<int> start) { _wide = start; _narrow = default; }

    /// <summary>Adds chunk <paramref name="q"/> against the four activation bytes at <paramref name="x"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(Vector256<byte> q, byte* x)
    {
        var s = Vector256.Create(*(int*)x).AsSByte();
        if (!AvxVnni.IsSupported && Avx2.IsSupported) _narrow += Avx2.MultiplyAddAdjacent(q, s);
        else _wide = TileMath.Dot4(_wide, q, s);
    }

    /// <summary>
    /// Two sums as one, when their chunks together stay within eight (the i16 bound): with AVX2 alone the pair is
    /// widened by one vpmaddwd instead of two.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static NibbleDot operator +(NibbleDot a, NibbleDot b) => new() { _wide = a._wide + b._wide, _narrow = a._narrow + b._narrow };

    /// <summary>The eight row sums.</summary>
    public readonly Vector256<int> Sum
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => !AvxVnni.IsSupported && Avx2.IsSupported ? _wide + Avx2.MultiplyAddAdjacent(_narrow, Vector256.Create((short)1)) : _wide;
    }
}
