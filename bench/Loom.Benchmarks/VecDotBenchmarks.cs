using BenchmarkDotNet.Attributes;
using Loom.Core.Quantization;
using Loom.Core.Tensors;

namespace Loom.Benchmarks;

/// <summary>One weight row · one activation row (already in the weight type's dot format), 4096 elements.</summary>
public class VecDotBenchmarks
{
    private const int N = 4096;
    private byte[] _w = [], _x = [];

    [Params(GgmlType.F32, GgmlType.F16, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0,
        GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K)]
    public GgmlType Type { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _w = BenchData.Quantized(Type, BenchData.Floats(N, 1));
        _x = BenchData.Quantized(Quants.VecDotType(Type), BenchData.Floats(N, 2));
    }

    [Benchmark]
    public float VecDot() => Quants.VecDot(Type, _w, _x, N);
}
