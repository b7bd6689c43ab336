using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Lab.Scenarios.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
