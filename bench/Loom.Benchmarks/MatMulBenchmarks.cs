using BenchmarkDotNet.Attributes;
using Loom.Core.Kernels;
using Loom.Core.Tensors;

namespace Loom.Benchmarks;

/// <summary>
/// <see cref="MatMul.Compute"/> against a 2048×2048 weight: one token (the GEMV of a decode step) and 64 tokens (the
/// GEMM of a prompt), on all cores (RowParallel's default); <see cref="Packed"/> repacks the matrix as the model
/// loader does (Q4_0, Q8_0, Q4_K, Q6_K) against the row-layout tile kernels.
/// </summary>
public unsafe class MatMulBenchmarks
{
    private const int Dim = 2048;
    private NativeBuffer? _buffer;
    private WeightTensor? _w;
    private float[] _x = [], _y = [];
    private byte[] _scratch = [];
    private bool[] _gemv = [];

    [Params(GgmlType.F32, GgmlType.F16, GgmlType.Q4_0, GgmlType.Q8_0, GgmlType.Q4_K, GgmlType.Q6_K)]
    public GgmlType Type { get; set; }

    [Params(1, 64)]
    public int Tokens { get; set; }

    [Params(false, true)]
    public bool Packed { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var bytes = BenchData.Quantized(Type, BenchData.Floats(Dim * Dim, 1));
        _buffer = new NativeBuffer(bytes.Length);
        bytes.CopyTo(new Span<byte>((void*)_buffer.Pointer, bytes.Length));
        _w = new WeightTensor("w", Type, [Dim, Dim], _buffer.Pointer, bytes.Length);
        if (Packed && Loom.Core.Kernels.Quantized.PackedMatrix.CanPack(_w)) _w.Packed = Loom.Core.Kernels.Quantized.PackedMatrix.Pack(_w);
        _x = BenchData.Floats(Tokens * Dim, 2);
        _y = new float[Tokens * Dim];
        _scratch = new byte[MatMul.ScratchBytes(_w, Tokens)];
        _gemv = Enumerable.Repeat(Tokens == 1, Tokens).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _w?.Packed?.Dispose();
        _buffer?.Dispose();
    }

    [Benchmark]
    public void Compute() => MatMul.Compute(_w!, _x, Tokens, _y, _scratch, _gemv);
}
