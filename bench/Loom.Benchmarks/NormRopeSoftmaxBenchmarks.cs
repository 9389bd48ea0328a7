using BenchmarkDotNet.Attributes;
using Loom.Core.Kernels;

namespace Loom.Benchmarks;

/// <summary>The small per-token kernels at TinyLlama's sizes: RMSNorm over 2048, softmax over 2048 scores, RoPE on 32 heads of 64.</summary>
public class NormRopeSoftmaxBenchmarks
{
    private const int Dim = 2048, HeadDim = 64, Heads = 32;
    private float[] _x = [], _w = [], _y = [], _scores = [], _scratch = [], _heads = [], _cos = [], _sin = [];

    [GlobalSetup]
    public void Setup()
    {
        _x = BenchData.Floats(Dim, 1);
        _w = BenchData.Floats(Dim, 2);
        _y = new float[Dim];
        _scores = BenchData.Floats(Dim, 3);
        _scratch = new float[Dim];
        _heads = BenchData.Floats(Heads * HeadDim, 4);
        _cos = new float[HeadDim / 2];
        _sin = new float[HeadDim / 2];
        Rope.Angles(100, HeadDim, 10000f, 1f, [], _cos, _sin);
    }

    [Benchmark]
    public void RmsNormApply() => RmsNorm.Apply(_x, _w, _y, 1e-5f);

    [Benchmark]
    public void SoftmaxApply()
    {
        _scores.CopyTo(_scratch, 0); // softmax works in place; start from the same scores each time
        Softmax.Apply(_scratch);
    }

    [Benchmark]
    public void RopeAngles() => Rope.Angles(100, HeadDim, 10000f, 1f, [], _cos, _sin);

    [Benchmark]
    public void RopeInterleaved()
    {
        for (int h = 0; h < Heads; h++) Rope.ApplyInterleaved(_heads.AsSpan(h * HeadDim, HeadDim), _cos, _sin);
    }

    [Benchmark]
    public void RopeNeoX()
    {
        for (int h = 0; h < Heads; h++) Rope.ApplyNeoX(_heads.AsSpan(h * HeadDim, HeadDim), _cos, _sin);
    }
}
