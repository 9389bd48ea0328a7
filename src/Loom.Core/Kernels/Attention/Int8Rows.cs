using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Loom.Core.Kernels.Attention;

/// <summary>
/// The int8 KV cache's rows: each head vector is stored as round(x / s) with s = max|x| / 127, so the
/// largest element is exact and every other is within s/2.
/// </summary>
internal static unsafe class Int8Rows
{
    /// <summary>Quantizes the <paramref name="n"/> floats at <paramref name="x"/>; returns the scale.</summary>
    public static float Quantize(float* x, int n, sbyte* q)
    {
        float amax = 0;
        for (int i = 0; i < n; i++) amax = MathF.Max(amax, MathF.Abs(x[i]));
        float scale = amax / 127f;
        float inv = amax == 0 ? 0 : 127f / amax;
        for (int i = 0; i < n; i++) q[i] = (sbyte)Math.Clamp((int)MathF.Round(x[i] * inv), -127, 127);
        return scale;
    }

    /// <summary>dst[i] = scale × q[i].</summary>
    public static void Dequantize(sbyte* q, float scale, float* dst, int n)
    {
        int i = 0;
        if (Avx512F.IsSupported)
        {
            var s = Vector512.Create(scale);
            for (; i + 16 <= n; i += 16)
                (Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(q + i))) * s).Store(dst + i);
        }
        else if (Avx2.IsSupported)
        {
            var s = Vector256.Create(scale);
            for (; i + 8 <= n; i += 8) (Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q + i)) * s).Store(dst + i);
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            var s = Vector128.Create(scale);
            for (; i + 16 <= n; i += 16)
            {
                var v = Vector128.Load(q + i);
                var (lo, hi) = (Vector128.WidenLower(v), Vector128.WidenUpper(v));
                (Vector128.ConvertToSingle(Vector128.WidenLower(lo)) * s).Store(dst + i);
                (Vector128.ConvertToSingle(Vector128.WidenUpper(lo)) * s).Store(dst + i + 4);
                (Vector128.ConvertToSingle(Vector128.WidenLower(hi)) * s).Store(dst + i + 8);
                (Vector128.ConvertToSingle(Vector128.WidenUpper(hi)) * s).Store(dst + i + 12);
            }
        }
        for (; i < n; i++) dst[i] = scale * q[i];
    }
}
