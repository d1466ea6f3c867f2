#!/usr/bin/env bash
# End-to-end benchmark: the relay side by side with no proxy (direct), nginx, itself with metering off and itself
# reached with a limited client key, under the same load.
#
#   bench/run.sh                      # full run, about 9 minutes on 2 cores; rewrites the table in docs/benchmarks.md
#
# Knobs (environment): BENCH_ROUNDS (5), BENCH_DURATION (10 s per chat round), BENCH_STREAMS (1000),
# BENCH_SCENARIOS (chat,chat1,sse,files,ws,wrk; wrk is bench/cpu-ab.sh's outsiders' measurement, run last: wrk against
# a static upstream, nginx with the shipped site, the bench/Floor YARP floor and the relay with everything on in the
# same rounds, about 5 more minutes), BENCH_REPORT (docs/benchmarks.md; "none" to skip),
# BENCH_RELAY_ENV (extra VAR=value pairs for the relay process only, for experiments, e.g. "DOTNET_gcServer=1").
# What each number means: bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/bench/out
ROUNDS=${BENCH_ROUNDS:-5}
DURATION=${BENCH_DURATION:-10}
STREAMS=${BENCH_STREAMS:-1000}
SCENARIOS=${BENCH_SCENARIOS:-chat,chat1,sse,files,ws,wrk}
# The outsiders' measurement: the relay with everything a production relay has on (a client key with every limit, the
# ledger, the JSON request log, metrics) beside nginx and the floor, then without the log, then with a shared token.
WRK_VARIANTS="nginx|@nginx|;floor|@floor|;relay||@LIMITED_KEY@ Logging__LogLevel__Default=Information Logging__Console__FormatterName=json RELAY_METRICS_TOKEN=bench-metrics-token-0001;relay-nolog||@LIMITED_KEY@ RELAY_METRICS_TOKEN=bench-metrics-token-0001;relay-token||"
RUN_WRK=false
if [[ ,$SCENARIOS, == *,wrk,* ]]; then
  RUN_WRK=true
  SCENARIOS=$(tr ',' '\n' <<<"$SCENARIOS" | grep -vx wrk | paste -sd, - || true)
  if [ -z "$SCENARIOS" ]; then
    exec env BENCH_VARIANTS="$WRK_VARIANTS" BENCH_ROUNDS="$ROUNDS" BENCH_DURATION="$DURATION" bench/cpu-ab.sh
  fi
fi
REPORT=${BENCH_REPORT:-docs/benchmarks.md}
API_KEY=sk-bench-upstream
RELAY_TOKEN=rt-bench-client
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

# A free loopback port at or above $1 (other worktrees may be benchmarking on this machine at the same time).
free_port() {
  local p=$1
  while ss -Hltn "sport = :$p" | grep -q .; do p=$((p + 1)); done
  echo "$p"
}

# Waits (at most 30 s) until the URL answers 2xx.
wait_ready() {
  local url=$1 auth=${2:-}
  for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null ${auth:+-H "Authorization: Bearer $auth"} "$url" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "not ready: $url" >&2
  return 1
}

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
rm -rf "$OUT" && mkdir -p "$OUT/nginx/tmp"

log "publishing relay, fake upstream and load generator (Release)"
timeout 600 dotnet publish src/OpenAiRelay/OpenAiRelay.csproj -c Release -o "$OUT/relay" --nologo -v quiet
timeout 600 dotnet publish test/FakeOpenAi/FakeOpenAi.csproj -c Release -o "$OUT/fake" --nologo -v quiet
timeout 600 dotnet publish bench/LoadGen/LoadGen.csproj -c Release -o "$OUT/loadgen" --nologo -v quiet

FAKE_PORT=$(free_port 18080)
"$OUT/fake/FakeOpenAi" --port "$FAKE_PORT" --api-key "$API_KEY" --event-interval-ms 0 --events 10 >"$OUT/fake.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$FAKE_PORT/v1/models" "$API_KEY"

# nginx with the shipped site, minus TLS, in front of the fake (bench/shipped-nginx.sh).
NGINX_PORT=$(free_port $((FAKE_PORT + 1)))
# shellcheck source=bench/shipped-nginx.sh
source "$ROOT/bench/shipped-nginx.sh"
render_shipped_nginx "$OUT/nginx" "$NGINX_PORT" "$FAKE_PORT"
nginx -t -q -p "$OUT/nginx" -c "$OUT/nginx/nginx.conf"
nginx -p "$OUT/nginx" -c "$OUT/nginx/nginx.conf" -g 'daemon off;' &
NGINX_MASTER=$!
PIDS+=("$NGINX_MASTER")
wait_ready "http://127.0.0.1:$NGINX_PORT/v1/models" "$API_KEY"
NGINX_WORKERS=$(pgrep -P "$NGINX_MASTER" | paste -sd, -)

# A per-person client key for the relay-limited target, made with the relay's own CLI against the relay's data
# directory before the relay starts (so the running relay has no cache to miss). Every limit `keys create` offers is
# set, each far above what the load can reach, so every request goes through admission and none is refused; the
# allow-lists (endpoints, and models where offered) name what the chat scenarios call. Options added to the CLI
# later (tpm, budget) are taken from its --help, so the key always carries every limit the build has.
LIMITED_RPM=1000000000
KEY_HELP=$("$OUT/relay/openai-relay" keys create --help)
LIMIT_ARGS=(--rpm "$LIMITED_RPM" --max-concurrent 100000 --endpoints /v1/chat)
has_option() { grep -q -- "^ *$1[ ,<]" <<<"$KEY_HELP"; }
has_option --tpm && LIMIT_ARGS+=(--tpm 1000000000)
has_option --budget-usd && LIMIT_ARGS+=(--budget-usd 1000000)
has_option --budget-period && LIMIT_ARGS+=(--budget-period month)
has_option --models && LIMIT_ARGS+=(--models gpt-4o-mini)
KEY_OUTPUT=$(env OPENAI_API_KEY="$API_KEY" RELAY_TOKEN="$RELAY_TOKEN" RELAY_DATA_DIR="$OUT/relay-data" ${BENCH_RELAY_ENV:-} \
  "$OUT/relay/openai-relay" keys create bench-limited "${LIMIT_ARGS[@]}")
LIMITED_TOKEN=$(head -1 <<<"$KEY_OUTPUT")
[[ $LIMITED_TOKEN == rk_live_* ]] || { echo "keys create printed no rk_live_ token: $KEY_OUTPUT" >&2; exit 1; }
log "limited key: $(sed -n 2p <<<"$KEY_OUTPUT" | sed 's/ Store the line above.*//')"

# The relay as published, default configuration (metering and the SQLite ledger on); only the environment a
# deployment must set, and a fresh data directory under bench/out (not ./data of the working copy).
RELAY_PORT=$(free_port $((NGINX_PORT + 1)))
env OPENAI_API_KEY="$API_KEY" RELAY_TOKEN="$RELAY_TOKEN" OPENAI_BASE_URL="http://127.0.0.1:$FAKE_PORT" \
  PORT="$RELAY_PORT" BIND_ADDRESS=127.0.0.1 RELAY_DATA_DIR="$OUT/relay-data" ${BENCH_RELAY_ENV:-} \
  "$OUT/relay/openai-relay" >"$OUT/relay.log" 2>&1 &
RELAY_PID=$!
PIDS+=("$RELAY_PID")
wait_ready "http://127.0.0.1:$RELAY_PORT/v1/models" "$RELAY_TOKEN"
# The limited key must really take the limit stage: its answer carries its own rpm in x-ratelimit-limit-requests.
LIMITED_CHECK=$(curl -sS -o /dev/null -D - -w '%{http_code}' -H "Authorization: Bearer $LIMITED_TOKEN" -H 'Content-Type: application/json' \
  --data '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"What is 2+2?"}],"temperature":0}' \
  "http://127.0.0.1:$RELAY_PORT/v1/chat/completions" | tr -d '\r')
if [[ ${LIMITED_CHECK##*$'\n'} != 200 ]] || ! grep -qi "^x-ratelimit-limit-requests: $LIMITED_RPM$" <<<"$LIMITED_CHECK"; then
  echo "the limited key's chat completion did not pass the limit stage (want 200 and x-ratelimit-limit-requests: $LIMITED_RPM):" >&2
  echo "$LIMITED_CHECK" >&2
  exit 1
fi

# The same relay with metering off (plain forwarding: no body inspection, no ledger rows; the token check stays),
# measured in the same rounds, so "relay / relay-off" is what metering costs. Each relay has its own data directory.
RELAY_OFF_PORT=$(free_port $((RELAY_PORT + 1)))
env OPENAI_API_KEY="$API_KEY" RELAY_TOKEN="$RELAY_TOKEN" OPENAI_BASE_URL="http://127.0.0.1:$FAKE_PORT" \
  PORT="$RELAY_OFF_PORT" BIND_ADDRESS=127.0.0.1 RELAY_DATA_DIR="$OUT/relay-off-data" Relay__Metering__Enabled=false ${BENCH_RELAY_ENV:-} \
  "$OUT/relay/openai-relay" >"$OUT/relay-off.log" 2>&1 &
RELAY_OFF_PID=$!
PIDS+=("$RELAY_OFF_PID")
wait_ready "http://127.0.0.1:$RELAY_OFF_PORT/v1/models" "$RELAY_TOKEN"

MEM_GB=$(awk '/MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
cat >"$OUT/machine.md" <<MACHINE
Run $(date -u +%Y-%m-%dT%H:%MZ) at commit \`$(git rev-parse --short HEAD)\`$(git diff --quiet HEAD -- src bench || echo ' (with uncommitted changes)').
Machine: $(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), ${MEM_GB} GiB RAM, Linux $(uname -r);
.NET SDK $(dotnet --version), runtime $(dotnet --list-runtimes | awk '/Microsoft.AspNetCore.App/ { v = $2 } END { print v }'); $(nginx -v 2>&1 | sed 's/^nginx version: //') ($(pgrep -cP "$NGINX_MASTER") workers).
Client, proxy and fake upstream share these CPUs${BENCH_RELAY_ENV:+; relay environment: \`$BENCH_RELAY_ENV\`}.
MACHINE

log "fake :$FAKE_PORT, nginx :$NGINX_PORT (workers $NGINX_WORKERS), relay :$RELAY_PORT (pid $RELAY_PID; also relay-limited), relay-off :$RELAY_OFF_PORT (pid $RELAY_OFF_PID); $ROUNDS rounds"
REPORT_ARGS=()
if [[ $REPORT != none ]]; then REPORT_ARGS=(--report "$REPORT" --machine "$OUT/machine.md"); fi
timeout 1200 dotnet "$OUT/loadgen/LoadGen.dll" \
  --direct "http://127.0.0.1:$FAKE_PORT" --nginx "http://127.0.0.1:$NGINX_PORT" --relay "http://127.0.0.1:$RELAY_PORT" \
  --relay-off "http://127.0.0.1:$RELAY_OFF_PORT" --relay-off-pids "$RELAY_OFF_PID" \
  --relay-limited "http://127.0.0.1:$RELAY_PORT" --limited-token "$LIMITED_TOKEN" \
  --api-key "$API_KEY" --relay-token "$RELAY_TOKEN" --relay-pids "$RELAY_PID" --nginx-pids "$NGINX_WORKERS" \
  --rounds "$ROUNDS" --duration "$DURATION" --streams "$STREAMS" --scenarios "$SCENARIOS" \
  --results "$OUT/results.jsonl" --command "bench/run.sh${BENCH_RELAY_ENV:+ (BENCH_RELAY_ENV=\"$BENCH_RELAY_ENV\")}" "${REPORT_ARGS[@]}"
log "relay peak RSS $(awk '/VmHWM/ { print $2, $3 }' "/proc/$RELAY_PID/status"), relay-off $(awk '/VmHWM/ { print $2, $3 }' "/proc/$RELAY_OFF_PID/status"); results in $OUT/results.jsonl"
# Exactly one ledger row per relayed request: rows (and rows still in flight, which should be 0) against log lines.
log "relay ledger rows (in flight): $(sqlite3 -separator ' ' "$OUT/relay-data/relay.db" "SELECT count(*), '(' || sum(outcome = 'in_flight') || ')' FROM usage_records" 2>/dev/null || echo '?'); request log lines: $(grep -c ' /v1/' "$OUT/relay.log" || true)"
# Per client (shared token, limited key): rows and refusals (429), which must be 0 for the limited key.
log "relay ledger rows by client (rows, 429s): $(sqlite3 -separator ' ' "$OUT/relay-data/relay.db" "SELECT group_concat(key_label || ' ' || n || ' ' || refused, ', ') FROM (SELECT key_label, count(*) AS n, sum(status = 429) AS refused FROM usage_records GROUP BY key_label)" 2>/dev/null || echo '?')"
if $RUN_WRK; then
  # This run's servers first, so they cannot take CPU from the wrk rounds.
  cleanup; PIDS=()
  log "wrk against a static upstream: nginx, the floor and the relay in the same rounds (bench/cpu-ab.sh)"
  BENCH_VARIANTS="$WRK_VARIANTS" BENCH_ROUNDS="$ROUNDS" BENCH_DURATION="$DURATION" bench/cpu-ab.sh
fi
