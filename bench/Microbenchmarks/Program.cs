using BenchmarkDotNet.Running;

// Hot paths of the relay, measured in isolation with allocations per operation. The short job keeps a full run to a
// couple of minutes: `dotnet run -c Release --project bench/Microbenchmarks -- --filter '*'` (see bench/README.md).
BenchmarkSwitcher.FromAssembly(typeof(OpenAiRelay.Microbenchmarks.AuthenticationBenchmarks).Assembly).Run(args);
