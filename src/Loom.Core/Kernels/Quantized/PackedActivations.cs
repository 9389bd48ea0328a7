namespace Loom.Core.Kernels.Quantized;

/// <summary>
/// Activations for the <see cref="PackedMatrix">packed kernels</see>: per block of 32 values, the Q8_0 quants of
/// <see cref="Q8_0.Quantize"/> (byte for byte), its f16 scale widened to f32, and the quants' sum (40 bytes). The
/// kernels broadcast the scale and start each block's integer sum at −offset·Σq without converting or reducing
/// anything per row tile.
/// </summary>
public static unsafe class PackedActivations
{
    /// <summary>Bytes per block: sbyte qs[32], float d, int Σqs.</summary>
    public const int BlockBytes = 40;

    /// <summary>Bytes of one quantized row of <paramref name="k"/> values (a multiple of 32).</summary>
    public static long RowBytes(int k) => (long)(k / Q8_0.BlockSize) * BlockBytes;

    /// <summary>Quantizes one row of <c>k</c> values.</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<byte> dst)
    {
        if (x.Length % Q8_0.BlockSize != 0 || dst.Length < RowBytes(x.Length)) throw new ArgumentException("packed activation row size mismatch");
        if (!Q8_0.HasVectorBlock) { QuantizeReference(x, dst); return; }
        fixed (float* xs = x)
        fixed (byte* ds = dst)
        {
            int nb = x.Length / Q8_0.BlockSize;
            for (int i = 0; i < nb; i++)
            {
                byte* b = ds + i * BlockBytes;
                ushort h = BitConverter.HalfToUInt16Bits(Q8_0.QuantizeBlock(xs + i * Q8_0.BlockSize, (sbyte*)b, out int sum));
                *(float*)(b + 32) = TileMath.Half((byte*)&h);
                *(int*)(b + 36) = sum;
            }
        }
    }

    /// <summary>The scalar form of <see cref="Quantize"/>: <see cref="Q8_0.QuantizeScalar"/>, rearranged.</summary>
    public static void QuantizeReference(ReadOnlySpan<float> x, Span<byte> dst)
    {
        int nb = x.Length / Q8_0.BlockSize;
        Span<byte> q8 = stackalloc byte[Q8_0.BlockBytes];
        for (int i = 0; i < nb; i++)
        {
            Q8_0.QuantizeScalar(x.Slice(i * Q8_0.BlockSize, Q8_0.BlockSize), q8);
            var b = dst.Slice(i * BlockBytes, BlockBytes);
            int sum = 0;
            for (int j = 0; j < 32; j++) { b[j] = q8[2 + j]; sum += (sbyte)q8[2 + j]; }
            BitConverter.TryWriteBytes(b.Slice(32), (float)BitConverter.UInt16BitsToHalf((ushort)(q8[0] | q8[1] << 8)));
            BitConverter.TryWriteBytes(b.Slice(36), sum);
        }
    }

    /// <summary>A block's integer sum's starting value, <paramref name="offset"/>·Σq, in all eight lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> Start(byte* block, int offset) => Vector256.Create(offset * *(int*)(block + 36));

    /// <summary>acc + (float)isum · dw · d, d being the block's scale: eight rows, one per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Scale(Vector256<float> acc, Vector256<int> isum, Vector256<float> dw, byte* block) =>
        TileMath.MulAdd(TileMath.ToFloat(isum), dw * Vector256.Create(*(float*)(block + 32)), acc);

    /// <summary>acc + (float)[ia | ib] · dw · d for a tile pair: sixteen rows, one per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Scale16(Vector512<float> acc, Vector256<int> ia, Vector256<int> ib, Vector512<float> dw, byte* block) =>
        Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(Vector512.Create(ia, ib)), dw * Vector512.Create(*(float*)(block + 32)), acc);
}
