using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Loom.Core.Kernels.Attention;

/// <summary>
/// Flash-attention's running softmax: query rows take K/V one tile at a time, keeping per row a running
/// maximum m, a running denominator l and an unnormalised output acc, rescaled when m grows. One tile's
/// widened rows serve every query row of the work item (the tokens of a prompt chunk × the heads of a KV
/// group), which is the point on a CPU. Sums run in a fast order, not the reference's: results agree with
/// exact attention to float rounding, not bit for bit.
/// </summary>
internal static unsafe class OnlineSoftmax
{
    /// <summary>Starts rows 0..count: m = -∞, l = 0, acc = 0.</summary>
    public static void Reset(float* m, float* l, float* acc, int count, int hd)
    {
        for (int r = 0; r < count; r++) { m[r] = float.NegativeInfinity; l[r] = 0; }
        new Span<float>(acc, count * hd).Clear();
    }

    /// <summary>
    /// Folds one tile (positions j0..j0+rows, K and V rows widened in <paramref name="k"/>/<paramref name="v"/>)
    /// into each query row r at its positions starts[r]..ends[r] (a sliding window's start, the causal end,
    /// exclusive), scores scaled and soft-capped as <paramref name="call"/> says.
    /// </summary>
    // A tile's work dwarfs a call. Inlined into the paged drivers, it spent their JIT inlining budget and left
    // its own vector helpers as calls (a tenth slower where Vector512 is emulated).
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Tile(in AttentionCall call, float* q, int count, int hd, int* starts, int* ends, int j0, int rows, float* k, float* v,
        float* scores, float* m, float* l, float* acc)
    {
        float scale = call.Scale;
        // Many rows (a prompt chunk): transpose the tile once so scores come 16 positions per vector, with no
        // horizontal sum per position. Few rows (a decode token's heads): the transpose would not pay.
        float* kt = count >= 16 && rows == ExactKernels.Tile ? Transpose(k, rows, hd, scores + ExactKernels.Tile) : null;
        for (int r = 0; r < count; r++)
        {
            int valid = Math.Min(rows, ends[r] - j0), from = Math.Max(0, starts[r] - j0);
            if (valid <= from) continue;
            float* qr = q + r * hd;
            float mx = float.NegativeInfinity;
            if (kt != null) TransposedScores(qr, kt, hd, scale, scores);
            else
                for (int i = from; i < valid; i++) scores[i] = Dot(qr, k + i * hd, hd) * scale;
            call.Cap(scores + from, valid - from);
            for (int i = from; i < valid; i++) mx = MathF.Max(mx, scores[i]);
            float mNew = MathF.Max(m[r], mx);
            float* ar = acc + r * hd;
            if (m[r] != mNew && l[r] != 0)
            {
                float corr = MathF.Exp(m[r] - mNew);
                l[r] *= corr;
                Scale(ar, corr, hd);
            }
            m[r] = mNew;
            l[r] += Exp(scores + from, valid - from, mNew);
            AccumulateValues(scores + from, valid - from, v + from * hd, ar, hd);
        }
    }

    /// <summary>Space <see cref="Tile"/> needs in its scores buffer: the scores plus a transposed K tile.</summary>
    public static int ScratchFloats(int hd) => ExactKernels.Tile + ExactKernels.Tile * hd;

    private static float* Transpose(float* k, int rows, int hd, float* kt)
    {
        const int T = ExactKernels.Tile;
        for (int i = 0; i < rows; i++)
            for (int d = 0; d < hd; d++) kt[d * T + i] = k[i * hd + d];
        return kt;
    }

    /// <summary>scores[0..64) = scale · (q · K_i) from the transposed tile, four vectors of positions at once.</summary>
    private static void TransposedScores(float* q, float* kt, int hd, float scale, float* scores)
    {
        const int T = ExactKernels.Tile;
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
        for (int d = 0; d < hd; d++)
        {
            var qd = Vector512.Create(q[d]);
            float* row = kt + d * T;
            s0 = Vector512.FusedMultiplyAdd(qd, Vector512.Load(row), s0);
            s1 = Vector512.FusedMultiplyAdd(qd, Vector512.Load(row + 16), s1);
            s2 = Vector512.FusedMultiplyAdd(qd, Vector512.Load(row + 32), s2);
            s3 = Vector512.FusedMultiplyAdd(qd, Vector512.Load(row + 48), s3);
        }
        (s0 * scale).Store(scores); (s1 * scale).Store(scores + 16); (s2 * scale).Store(scores + 32); (s3 * scale).Store(scores + 48);
    }

    /// <summary>acc += Σ_i p[i]·V_i, the accumulator held in registers 64 dimensions at a time.</summary>
    private static void AccumulateValues(float* p, int count, float* v, float* acc, int hd)
    {
        int d = 0;
        for (; d + 64 <= hd; d += 64)
        {
            var a0 = Vector512.Load(acc + d); var a1 = Vector512.Load(acc + d + 16);
            var a2 = Vector512.Load(acc + d + 32); var a3 = Vector512.Load(acc + d + 48);
            for (int i = 0; i < count; i++)
            {
                var pi = Vector512.Create(p[i]);
                float* vr = v + i * hd + d;
                a0 = Vector512.FusedMultiplyAdd(pi, Vector512.Load(vr), a0);
                a1 = Vector512.FusedMultiplyAdd(pi, Vector512.Load(vr + 16), a1);
                a2 = Vector512.FusedMultiplyAdd(pi, Vector512.Load(vr + 32), a2);
                a3 = Vector512.FusedMultiplyAdd(pi, Vector512.Load(vr + 48), a3);
            }
            a0.Store(acc + d); a1.Store(acc + d + 16); a2.Store(acc + d + 32); a3.Store(acc + d + 48);
        }
        if (d < hd)
            for (int i = 0; i < count; i++) ExactKernels.Fma(p[i], v + i * hd + d, acc + d, hd - d);
    }

    /// <summary>Writes acc / l for rows 0..count to consecutive output rows.</summary>
    public static void Finish(float* l, float* acc, int count, int hd, float* o)
    {
        for (int r = 0; r < count; r++)
        {
            float inv = 1f / l[r];
            for (int d = 0; d < hd; d++) o[r * hd + d] = acc[r * hd + d] * inv;
        }
    }

    /// <summary>
    /// Merges <paramref name="parts"/> partial states of one row (m, l, acc at stride hd + 2: [m, l, acc…]) into
    /// the normalised output.
    /// </summary>
    public static void Combine(float* partials, int parts, int hd, float* o)
    {
        float mx = float.NegativeInfinity;
        for (int s = 0; s < parts; s++) mx = MathF.Max(mx, partials[s * (hd + 2)]);
        new Span<float>(o, hd).Clear();
        float l = 0;
        for (int s = 0; s < parts; s++)
        {
            float* p = partials + s * (hd + 2);
            if (p[1] == 0) continue;
            float w = MathF.Exp(p[0] - mx);
            l += w * p[1];
            ExactKernels.Fma(w, p + 2, o, hd);
        }
        Scale(o, 1f / l, hd);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(float* a, float* b, int n)
    {
        int i = 0;
        var acc = Vector512<float>.Zero;
        for (; i + 16 <= n; i += 16) acc = Vector512.FusedMultiplyAdd(Vector512.Load(a + i), Vector512.Load(b + i), acc);
        float s = Vector512.Sum(acc);
        for (; i < n; i++) s += a[i] * b[i];
        return s;
    }

    private static void Scale(float* x, float f, int n)
    {
        int i = 0;
        for (; i + 16 <= n; i += 16) (Vector512.Load(x + i) * f).Store(x + i);
        for (; i < n; i++) x[i] *= f;
    }

    /// <summary>x[i] = exp(x[i] - max) in place; returns Σ x[i].</summary>
    private static float Exp(float* x, int n, float max)
    {
        int i = 0;
        var sum = Vector512<float>.Zero;
        var mv = Vector512.Create(max);
        for (; i + 16 <= n; i += 16)
        {
            var e = Vector512.Exp(Vector512.Load(x + i) - mv);
            e.Store(x + i);
            sum += e;
        }
        float s = Vector512.Sum(sum);
        for (; i < n; i++) { x[i] = MathF.Exp(x[i] - max); s += x[i]; }
        return s;
    }
}
