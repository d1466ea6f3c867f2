#!/usr/bin/env bash
# The test command from the README: restores the Node SDK client, publishes the relay as the Dockerfile does,
# and runs every test (unit, functional on real sockets, official .NET and Node SDKs, nginx, databases).
set -euo pipefail
cd "$(dirname "$0")"

# Style is a gate, as warnings are: the code must already be formatted (`dotnet format openai-relay.slnx` fixes it).
dotnet format openai-relay.slnx --verify-no-changes

npm ci --prefix test/node-sdk --no-audit --no-fund --loglevel=error
# The web console's pinned chart library: VendoredAssetsTests compares the committed copy with node_modules/uplot/dist.
npm ci --prefix src/OpenAiRelay/AdminConsole/client --no-audit --no-fund --loglevel=error
# The whole solution, benchmarks included: `dotnet test` alone builds only the test projects and what they reference,
# and a benchmark that no longer compiles would go unnoticed until someone measures.
dotnet build openai-relay.slnx -c Release --nologo -v quiet
dotnet publish src/OpenAiRelay/OpenAiRelay.csproj -c Release -o artifacts/relay --nologo -v quiet

mkdir -p artifacts
set +e
RELAY_PUBLISH_DIR="$PWD/artifacts/relay" dotnet test openai-relay.slnx -c Release --nologo "$@" 2>&1 | tee artifacts/test-output.txt
status=${PIPESTATUS[0]}
set -e

# One plain closing line: "N passed, N failed, N skipped". A test host that aborted (a crash, a hang killed by the
# blame timeout) leaves no summary line, or a summary of a partial run: then the line says so and the exit is 1.
awk -F'[:,]' '/(Passed|Failed)! +- +Failed:/ { f += $2; p += $4; s += $6 } END { if (p + f > 0) printf "%d passed, %d failed, %d skipped\n", p, f, s }' artifacts/test-output.txt
if grep -qE "Test host process crashed|The active test run was aborted|Test Run Aborted" artifacts/test-output.txt \
   || ! grep -qE "(Passed|Failed)! +- +Failed:" artifacts/test-output.txt; then
  echo "test run aborted: the counts above (if any) are of a partial run"
  [ "$status" -ne 0 ] || status=1
fi
exit "$status"
