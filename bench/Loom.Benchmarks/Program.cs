using BenchmarkDotNet.Running;

// Kernel micro-benchmarks. Run all: dotnet run -c Release --project bench/Loom.Benchmarks -- --filter '*'
// (add --job dry for a quick check that every benchmark runs). Whole-model speed is `loom bench`.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
