using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Loom.Core.Kernels.Attention;

/// <summary>
/// f16 ↔ f32 conversion sixteen or thirty-two lanes at a time with integer bit operations (.NET exposes no F16C
/// intrinsics, and <c>(float)Half</c> is a scalar software routine). Both directions give exactly what the
/// scalar <see cref="Half"/> casts give — widening is exact, narrowing rounds to nearest even — except that a
/// NaN's payload may differ, so attention results do not change by switching to them.
/// </summary>
internal static unsafe class HalfVec
{
    /// <summary>2^112: rescales an f16 exponent placed in an f32's exponent field (bias 15 → 127).</summary>
    private const uint Rebias = (127 + 127 - 15) << 23;

    /// <summary>Widens the 16 halves at <paramref name="p"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Widen16(Half* p) => Widen(Vector512.WidenLower(Vector256.Load((ushort*)p).ToVector512Unsafe()));

    /// <summary>Widens the 32 halves at <paramref name="p"/> into two vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector512<float> Lo, Vector512<float> Hi) Widen32(Half* p)
    {
        var h = Vector512.Load((ushort*)p);
        return (Widen(Vector512.WidenLower(h)), Widen(Vector512.WidenUpper(h)));
    }

    /// <summary>f16 bit patterns (zero-extended to 32 bits) to floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Widen(Vector512<uint> h)
    {
        var em = h & Vector512.Create(0x7FFFu);
        var bits = em << 13;
        // Normals and subnormals alike come out exact from one multiply (subnormal halves are f32 denormals here).
        var scaled = bits.AsSingle() * Vector512.Create(Rebias).AsSingle();
        var special = Vector512.GreaterThanOrEqual(em, Vector512.Create(0x7C00u));
        var r = Vector512.ConditionalSelect(special, bits | Vector512.Create(0x7F800000u), scaled.AsUInt32());
        return (r | ((h & Vector512.Create(0x8000u)) << 16)).AsSingle();
    }

    /// <summary>Rounds 16 floats to f16 (nearest even, overflow to infinity), as bit patterns in 32-bit lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<uint> NarrowBits(Vector512<float> x)
    {
        var u = x.AsUInt32();
        var sign = u & Vector512.Create(0x80000000u);
        var f = u ^ sign;
        // Results in the f16 subnormal range: adding 0.5 lines the f16 quantum up with the f32 ulp, so the
        // hardware's round-to-nearest-even does the rounding.
        const uint denormMagic = ((127 - 15) + (23 - 10) + 1) << 23;
        var sub = (f.AsSingle() + Vector512.Create(denormMagic).AsSingle()).AsUInt32() - Vector512.Create(denormMagic);
        // Normal results: rebias the exponent and round the 13 dropped bits to nearest even.
        var odd = (f >> 13) & Vector512<uint>.One;
        var norm = (f + Vector512.Create(unchecked((uint)((15 - 127) << 23) + 0xFFFu)) + odd) >> 13;
        var r = Vector512.ConditionalSelect(Vector512.LessThan(f, Vector512.Create(113u << 23)), sub, norm);
        // At or above 65536 (after rounding nothing smaller overflows) the result is infinity; NaN stays NaN.
        var inf = Vector512.GreaterThanOrEqual(f, Vector512.Create((127u + 16) << 23));
        var nan = Vector512.GreaterThan(f, Vector512.Create(0x7F800000u));
        r = Vector512.ConditionalSelect(inf, Vector512.Create(0x7C00u), r);
        r = Vector512.ConditionalSelect(nan, Vector512.Create(0x7E00u) | ((f & Vector512.Create(0x7FFFFFu)) >> 13), r);
        return r | (sign >> 16);
    }

    /// <summary>Rounds 16 floats through f16 and back: what the reference does to Q and to probabilities.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> RoundTrip(Vector512<float> x) => Widen(NarrowBits(x));

    /// <summary>dst[i] = (float)src[i].</summary>
    public static void Widen(Half* src, float* dst, int n)
    {
        int i = 0;
        for (; i + 32 <= n; i += 32)
        {
            var (lo, hi) = Widen32(src + i);
            lo.Store(dst + i);
            hi.Store(dst + i + 16);
        }
        for (; i + 16 <= n; i += 16) Widen16(src + i).Store(dst + i);
        for (; i < n; i++) dst[i] = (float)src[i];
    }

    /// <summary>2^112 (<see cref="Dot.F16Prescale"/>) and its inverse: what <see cref="WidenUnbiased"/>'s rows and their other operands carry.</summary>
    public static readonly float TwoTo112 = Dot.F16Prescale, TwoToMinus112 = 1f / Dot.F16Prescale;

    /// <summary>
    /// dst[i] = (float)src[i] · 2^-112, exactly (the result is an f32 denormal for the smallest halves): the bit shift
    /// of <see cref="Dot.HalfBits8"/>, three operations per eight values instead of <see cref="Widen(Half*, float*, int)"/>'s
    /// rebias, since the caller multiplies the other operand by 2^112 once and a product of the two equals the unscaled
    /// product bit for bit. A vector holding an infinity or NaN is widened the exact way and scaled.
    /// </summary>
    public static void WidenUnbiased(Half* src, float* dst, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8)
            {
                var h = Dot.SignExtend8((short*)(src + i));
                Dot.HalfBits8(h).Store(dst + i);
                if (Vector256.EqualsAny(h & Vector256.Create(0x7C00), Vector256.Create(0x7C00))) Exact(src, dst, i, 8);
            }
        else if (Vector128.IsHardwareAccelerated)
            for (; i + 4 <= n; i += 4)
            {
                var h = Vector128.WidenLower(Vector128.CreateScalar(*(long*)(src + i)).AsInt16());
                Dot.HalfBits4(h).Store(dst + i);
                if (Vector128.EqualsAny(h & Vector128.Create(0x7C00), Vector128.Create(0x7C00))) Exact(src, dst, i, 4);
            }
        Exact(src, dst, i, n - i);
    }

    private static void Exact(Half* src, float* dst, int from, int count)
    {
        for (int j = from; j < from + count; j++) dst[j] = (float)src[j] * TwoToMinus112;
    }

    /// <summary>x[i] = (float)(Half)x[i] · 2^112 in place: f16 rounding, then the factor <see cref="WidenUnbiased"/>'s other operand needs.</summary>
    public static void RoundTripPrescaled(float* x, int n)
    {
        int i = 0;
        for (; i + 16 <= n; i += 16) (RoundTrip(Vector512.Load(x + i)) * TwoTo112).Store(x + i);
        for (; i < n; i++) x[i] = (float)(Half)x[i] * TwoTo112;
    }

    /// <summary>dst[i] = (Half)src[i].</summary>
    public static void Narrow(float* src, Half* dst, int n)
    {
        int i = 0;
        for (; i + 32 <= n; i += 32)
            Vector512.Narrow(NarrowBits(Vector512.Load(src + i)), NarrowBits(Vector512.Load(src + i + 16))).Store((ushort*)(dst + i));
        for (; i + 16 <= n; i += 16)
            Vector512.Narrow(NarrowBits(Vector512.Load(src + i)), Vector512<uint>.Zero).GetLower().Store((ushort*)(dst + i));
        for (; i < n; i++) dst[i] = (Half)src[i];
    }

    /// <summary>x[i] = (float)(Half)x[i] in place.</summary>
    public static void RoundTrip(float* x, int n)
    {
        int i = 0;
        for (; i + 16 <= n; i += 16) RoundTrip(Vector512.Load(x + i)).Store(x + i);
        for (; i < n; i++) x[i] = (float)(Half)x[i];
    }
}
