#!/usr/bin/env bash
# Token timing (threat model A6): a published relay on loopback with the failed-auth throttle off (a real deployment
# keeps it on, which caps an attacker at 20 guesses a minute anyway), then bench/token-timing.py against it.
#   bench/token-timing.sh [SAMPLES]     # default 10000 per prefix length
set -euo pipefail
cd "$(dirname "$0")/.."
SAMPLES=${1:-10000}
PORT=${TOKEN_TIMING_PORT:-3191}
TOKEN=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
DATA=$(mktemp -d)
dotnet publish src/OpenAiRelay/OpenAiRelay.csproj -c Release -o bench/out/token-timing-relay --nologo -v quiet
OPENAI_API_KEY=sk-timing OPENAI_BASE_URL=http://127.0.0.1:9 RELAY_TOKEN=$TOKEN PORT=$PORT RELAY_DATA_DIR=$DATA \
  Relay__Limits__FailedAuthPerMinute=0 Logging__LogLevel__Default=Warning \
  bench/out/token-timing-relay/openai-relay > /dev/null 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 100); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.2; done
python3 bench/token-timing.py --port "$PORT" --token "$TOKEN" --samples "$SAMPLES"
