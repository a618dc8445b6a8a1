using BenchmarkDotNet.Running;

// Runs the benchmarks selected on the command line, for example:
//   dotnet run -c Release --project perf/Actors.Mta.Benchmarks -- --filter '*'
//   dotnet run -c Release --project perf/Actors.Mta.Benchmarks -- --filter '*' --job short
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
