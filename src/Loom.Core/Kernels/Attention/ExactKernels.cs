using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Loom.Core.Kernels;

namespace Loom.Core.Kernels.Attention;

/// <summary>
/// The summation orders of llama.cpp's non-flash f16 attention (see Loom.Models' ReferenceAttention), written
/// so that the vectors run across the head dimension, where every element is its own independent chain: the
/// result is the same number for number, only computed sixteen dimensions at a time.
/// </summary>
internal static unsafe class ExactKernels
{
    /// <summary>Positions widened at once; also ggml's single-token chain width (64 lanes).</summary>
    public const int Tile = 64;

    /// <summary>
    /// q·k as ggml sums it: a prompt token (<paramref name="gemm"/>) with n % 16 == 0 uses one 16-lane chain and
    /// the reduce tree; otherwise four 16-lane chains over 64-element steps, then the tail in double.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(float* q, float* k, int n, bool gemm)
    {
        if (gemm && n % 16 == 0)
        {
            var acc = Vector512<float>.Zero;
            for (int i = 0; i < n; i += 16) acc = Vector512.FusedMultiplyAdd(Vector512.Load(q + i), Vector512.Load(k + i), acc);
            return Core.Kernels.Dot.ReduceAdd(acc);
        }
        int np = n & ~63;
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
        for (int i = 0; i < np; i += 64)
        {
            s0 = Vector512.FusedMultiplyAdd(Vector512.Load(q + i), Vector512.Load(k + i), s0);
            s1 = Vector512.FusedMultiplyAdd(Vector512.Load(q + i + 16), Vector512.Load(k + i + 16), s1);
            s2 = Vector512.FusedMultiplyAdd(Vector512.Load(q + i + 32), Vector512.Load(k + i + 32), s2);
            s3 = Vector512.FusedMultiplyAdd(Vector512.Load(q + i + 48), Vector512.Load(k + i + 48), s3);
        }
        double sum = np == 0 ? 0 : Core.Kernels.Dot.ReduceAdd((s0 + s2) + (s1 + s3));
        for (int i = np; i < n; i++) sum += q[i] * k[i];
        return (float)sum;
    }

    /// <summary>acc[0..n) = fma(p, v[0..n), acc[0..n)): one FMA per element, as each lane chain takes it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Fma(float p, float* v, float* acc, int n)
    {
        var pv = Vector512.Create(p);
        int d = 0;
        for (; d + 16 <= n; d += 16) Vector512.FusedMultiplyAdd(pv, Vector512.Load(v + d), Vector512.Load(acc + d)).Store(acc + d);
        for (; d < n; d++) acc[d] = MathF.FusedMultiplyAdd(p, v[d], acc[d]);
    }

    /// <summary>
    /// o[d] = the reduce tree over 16 lanes, lane L being row L of <paramref name="lanes"/> (lane-major, n per
    /// row): halves, quarters, then pairs, as GCC's <c>_mm512_reduce_add_ps</c>.
    /// </summary>
    public static void ReduceLanes16(float* lanes, int n, float* o)
    {
        int d = 0;
        for (; d + 16 <= n; d += 16) Core.Kernels.Dot.ReduceAddColumns(lanes + d, n).Store(o + d);
        for (; d < n; d++)
        {
            float* r = lanes + d;
            float t0 = r[8 * n] + r[0], t1 = r[9 * n] + r[n], t2 = r[10 * n] + r[2 * n], t3 = r[11 * n] + r[3 * n];
            float t4 = r[12 * n] + r[4 * n], t5 = r[13 * n] + r[5 * n], t6 = r[14 * n] + r[6 * n], t7 = r[15 * n] + r[7 * n];
            float u0 = t4 + t0, u1 = t5 + t1, u2 = t6 + t2, u3 = t7 + t3;
            o[d] = (u0 + u2) + (u1 + u3);
        }
    }

    /// <summary>
    /// The 64 lanes of ggml_vec_dot_f16's four chains folded as it folds them, (c0 + c2) + (c1 + c3) lane by lane,
    /// then the 16-lane tree; written in place over rows 0..15.
    /// </summary>
    public static void FoldLanes64(float* lanes, int n)
    {
        for (int i = 0; i < 16; i++)
        {
            float* a = lanes + i * n, b = lanes + (i + 16) * n, c = lanes + (i + 32) * n, e = lanes + (i + 48) * n;
            int d = 0;
            for (; d + 16 <= n; d += 16)
                ((Vector512.Load(a + d) + Vector512.Load(c + d)) + (Vector512.Load(b + d) + Vector512.Load(e + d))).Store(a + d);
            for (; d < n; d++) a[d] = (a[d] + c[d]) + (b[d] + e[d]);
        }
    }

    /// <summary>sum[d] += (double)(p·v[d]), the product rounded to float first, as the reference's tail does.</summary>
    public static void AddProductDouble(float p, float* v, double* sum, int n)
    {
        var pv = Vector512.Create(p);
        int d = 0;
        for (; d + 16 <= n; d += 16)
        {
            var prod = pv * Vector512.Load(v + d);
            (Vector512.Load(sum + d) + Vector512.WidenLower(prod)).Store(sum + d);
            (Vector512.Load(sum + d + 8) + Vector512.WidenUpper(prod)).Store(sum + d + 8);
        }
        for (; d < n; d++) sum[d] += p * v[d];
    }
}
