using System.Buffers.Binary;
using Loom.Core.Quantization;
using Loom.Core.Tensors;

namespace Loom.Core.Tests.Kernels;

/// <summary>Weight and activation rows for tile kernel tests: realistic (quantized floats) and adversarial (random bytes).</summary>
internal static class TileKernelData
{
    /// <summary>Where each format keeps its fp16 scale fields and its quant bits.</summary>
    private static (int[] halves, int quantsFrom, int quantsTo) Layout(GgmlType t) => t switch
    {
        GgmlType.Q4_K => ([0, 2], 16, 144),
        GgmlType.Q5_K => ([0, 2], 16, 176),
        GgmlType.Q6_K => ([208], 0, 192),
        GgmlType.Q4_1 => ([0, 2], 4, 20),
        GgmlType.Q5_0 => ([0], 2, 22),
        GgmlType.Q5_1 => ([0, 2], 4, 24),
        GgmlType.Q4_0 => ([0], 2, 18),
        GgmlType.Q8_0 => ([0], 2, 34),
        _ => throw new ArgumentException(t.ToString()),
    };

    public static float Gaussian(Random r) => (float)(Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble()));

    /// <summary>Gaussian floats whose scale changes by block, so blocks get very different d.</summary>
    public static float[] Floats(Random r, int n, int blockSize)
    {
        var v = new float[n];
        for (int b = 0; b < n / blockSize; b++)
        {
            float scale = MathF.Pow(10, r.Next(-3, 3));
            for (int j = 0; j < blockSize; j++) v[b * blockSize + j] = scale * Gaussian(r);
        }
        return v;
    }

    /// <summary>A row of <paramref name="t"/> weights: quantized gaussian data, or random bits with finite random scales.</summary>
    public static byte[] WeightRow(Random r, GgmlType t, int n, bool randomBits)
    {
        var row = new byte[TypeTraits.RowSize(t, n)];
        if (!randomBits)
        {
            Quants.Quantize(t, Floats(r, n, TypeTraits.BlockSize(t)), row);
            return row;
        }
        r.NextBytes(row);
        var (halves, _, _) = Layout(t);
        int bb = TypeTraits.TypeSize(t);
        for (int b = 0; b < row.Length / bb; b++)
            foreach (int h in halves)
                BinaryPrimitives.WriteHalfLittleEndian(row.AsSpan(b * bb + h), (Half)((r.NextSingle() * 2 - 1) * MathF.Pow(2, r.Next(-14, 4))));
        return row;
    }

    /// <summary>An activation row in <see cref="Quants.VecDotType"/>(<paramref name="weight"/>).</summary>
    public static byte[] ActivationRow(Random r, GgmlType weight, int n, bool randomBits)
    {
        var xt = Quants.VecDotType(weight);
        var row = new byte[TypeTraits.RowSize(xt, n)];
        if (!randomBits)
        {
            Quants.Quantize(xt, Floats(r, n, TypeTraits.BlockSize(xt)), row);
            return row;
        }
        // Full-range quants including -128, which the quantizers never write, with consistent sums.
        int bs = TypeTraits.BlockSize(xt), bb = TypeTraits.TypeSize(xt);
        for (int b = 0; b < n / bs; b++)
        {
            var blk = row.AsSpan(b * bb, bb);
            var qs = new sbyte[bs];
            for (int j = 0; j < bs; j++) qs[j] = (sbyte)r.Next(-128, 128);
            SetActivationBlock(xt, blk, (r.NextSingle() * 2 - 1) * MathF.Pow(2, r.Next(-10, 4)), qs);
        }
        return row;
    }

    /// <summary>Writes an activation block with scale <paramref name="d"/> and quants <paramref name="qs"/>, filling in its sums.</summary>
    public static void SetActivationBlock(GgmlType xt, Span<byte> blk, float d, sbyte[] qs)
    {
        switch (xt)
        {
            case GgmlType.Q8_K:
                BinaryPrimitives.WriteSingleLittleEndian(blk, d);
                for (int j = 0; j < 256; j++) blk[4 + j] = (byte)qs[j];
                for (int g = 0; g < 16; g++)
                {
                    int s = 0;
                    for (int j = 0; j < 16; j++) s += qs[16 * g + j];
                    BinaryPrimitives.WriteInt16LittleEndian(blk[(260 + 2 * g)..], (short)s);
                }
                break;
            case GgmlType.Q8_0:
                BinaryPrimitives.WriteHalfLittleEndian(blk, (Half)d);
                for (int j = 0; j < 32; j++) blk[2 + j] = (byte)qs[j];
                break;
            case GgmlType.Q8_1:
                BinaryPrimitives.WriteHalfLittleEndian(blk, (Half)d);
                BinaryPrimitives.WriteHalfLittleEndian(blk[2..], (Half)(d * qs.Sum(q => (int)q)));
                for (int j = 0; j < 32; j++) blk[4 + j] = (byte)qs[j];
                break;
            default: throw new ArgumentException(xt.ToString());
        }
    }

    /// <summary>Clears the quant bits of every block of a weight row, leaving scales and mins.</summary>
    public static byte[] ZeroQuants(GgmlType t, byte[] row)
    {
        var copy = (byte[])row.Clone();
        var (_, from, to) = Layout(t);
        int bb = TypeTraits.TypeSize(t);
        for (int b = 0; b < copy.Length / bb; b++) copy.AsSpan(b * bb + from, to - from).Clear();
        return copy;
    }

    /// <summary>
    /// A bound on the magnitude of the terms the reference sums: Σ |x|·(|w| + 2|w₀|), where w₀ is the weight with its
    /// quants cleared (the min or offset part). Fast kernels may add the terms in another order, so they must agree
    /// with the reference to a small multiple of float epsilon times this.
    /// </summary>
    public static double TermMagnitude(GgmlType t, byte[] w, byte[] x, int n)
    {
        var wf = new float[n];
        var w0 = new float[n];
        var xf = new float[n];
        Quants.Dequantize(t, w, wf);
        Quants.Dequantize(t, ZeroQuants(t, w), w0);
        Quants.Dequantize(Quants.VecDotType(t), x, xf);
        double m = 0;
        for (int i = 0; i < n; i++) m += Math.Abs((double)xf[i]) * (Math.Abs((double)wf[i]) + 2 * Math.Abs((double)w0[i]));
        return m;
    }
}
