#!/usr/bin/env bash
# CPU per relayed request, side by side: the request-path cost a change (or a setting) adds or removes.
#
#   bench/cpu-ab.sh <before-rev> [<after-rev>, default: the working tree]
#   BENCH_VARIANTS="off|HEAD|;metrics|HEAD|RELAY_METRICS_TOKEN=bench-metrics-token-0001" bench/cpu-ab.sh
#
# Each variant (by default two: "before" and "after", the two revisions) is a revision published (Release) into
# bench/out-ab/ and started with the same settings plus its own VAR=value pairs (space-separated; @UPSTREAM@ stands for
# the static upstream's URL, which also answers 200 to OTLP exports). Then, in interleaved rounds (BENCH_ROUNDS,
# default 5), each relay in turn takes `wrk -t2 -c64 -d${BENCH_DURATION:-10}s` of POST /v1/chat/completions in front of
# a static nginx upstream (a fixed JSON chat completion with usage), so the upstream costs next to nothing and what is
# measured is the relay's own work. CPU is the relay process's utime+stime from /proc over the round, divided by the
# requests wrk completed. Metering is on (the default). Prints the median µs/request and requests/s of each, and each
# one's ratio to the first. Loopback only; needs wrk and nginx. On 2 shared cores rounds vary by ±20 %: read the
# medians, not one round.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
if [ -n "${BENCH_VARIANTS:-}" ]; then
  VARIANTS=$BENCH_VARIANTS
else
  BEFORE=${1:?usage: bench/cpu-ab.sh <before-rev> [<after-rev>]  (or BENCH_VARIANTS="name|rev|ENV=v;...")}
  VARIANTS="before|$BEFORE|;after|${2:-}|"
fi
IFS=';' read -r -a VARIANT_LIST <<<"$VARIANTS"
NAMES=(); REVS=(); ENVS=()
for variant in "${VARIANT_LIST[@]}"; do
  IFS='|' read -r name rev env <<<"$variant"
  NAMES+=("$name"); REVS+=("$rev"); ENVS+=("$env")
done
ROUNDS=${BENCH_ROUNDS:-5}
DURATION=${BENCH_DURATION:-10}
OUT=$ROOT/bench/out-ab
TOKEN=rt-bench-client
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

log() { printf '[cpu-ab %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
free_port() { local p=$1; while ss -Hltn "sport = :$p" | grep -q .; do p=$((p + 1)); done; echo "$p"; }
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; for rev in "${REVS[@]}"; do [ -z "$rev" ] || git worktree remove --force "$OUT/src-$rev" 2>/dev/null || true; done; }
trap cleanup EXIT
rm -rf "$OUT" && mkdir -p "$OUT/nginx/tmp"

# One publish per distinct revision; variants of the same revision share its build.
declare -A BUILT=()
publish() { # rev-or-empty -> the published directory
  local rev=$1 key=${1:-working-tree} src=$ROOT
  if [ -z "${BUILT[$key]:-}" ]; then
    if [ -n "$rev" ]; then git worktree add --detach -f "$OUT/src-$key" "$rev" >/dev/null 2>&1; src=$OUT/src-$key; fi
    log "publishing ${rev:-working tree}"
    dotnet publish "$src/src/OpenAiRelay/OpenAiRelay.csproj" -c Release -o "$OUT/build-$key" --nologo -v quiet >/dev/null
    # The checkout is needed for the publish only; left behind, its copies of the projects confuse tools that search
    # the repository for one (BenchmarkDotNet refuses two OpenAiRelay.Microbenchmarks.csproj).
    if [ -n "$rev" ]; then git worktree remove --force "$src"; fi
    BUILT[$key]=$OUT/build-$key
  fi
}
for rev in "${REVS[@]}"; do publish "$rev"; done
UPSTREAM_PORT=$(free_port 18400)
cat > "$OUT/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $OUT/nginx/nginx.pid;
error_log $OUT/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $OUT/nginx/tmp; proxy_temp_path $OUT/nginx/tmp; fastcgi_temp_path $OUT/nginx/tmp;
  uwsgi_temp_path $OUT/nginx/tmp; scgi_temp_path $OUT/nginx/tmp;
  server {
    listen 127.0.0.1:$UPSTREAM_PORT;
    location / {
      default_type application/json;
      return 200 '{"id":"chatcmpl-bench","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":5,"total_tokens":16}}';
    }
  }
}
CONF
nginx -c "$OUT/nginx/nginx.conf" -g 'daemon off;' & PIDS+=($!)

start_relay() { # index port
  local name=${NAMES[$1]} key=${REVS[$1]:-working-tree} extra=${ENVS[$1]//@UPSTREAM@/http://127.0.0.1:$UPSTREAM_PORT}
  mkdir -p "$OUT/data-$name"
  # shellcheck disable=SC2086 # the variant's VAR=value pairs are words on purpose
  env OPENAI_API_KEY=sk-bench-upstream RELAY_TOKEN=$TOKEN OPENAI_BASE_URL=http://127.0.0.1:$UPSTREAM_PORT PORT=$2 \
    RELAY_DATA_DIR="$OUT/data-$name" Logging__LogLevel__Default=Warning $extra \
    "$OUT/build-$key/openai-relay" > "$OUT/$name.log" 2>&1 & PIDS+=($!)
  echo $!
}
RELAY_PIDS=(); RELAY_PORTS=(); port=18410
for i in "${!NAMES[@]}"; do
  port=$(free_port "$port"); RELAY_PORTS+=("$port")
  RELAY_PIDS+=("$(start_relay "$i" "$port")")
  port=$((port + 1))
done
# start_relay runs in a command substitution (a subshell): its PIDS+= is lost, so the relays are added here, or they
# would outlive the script and load every later run.
PIDS+=("${RELAY_PIDS[@]}")
for port in "${RELAY_PORTS[@]}"; do
  for _ in $(seq 1 300); do curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break; sleep 0.1; done
done

cat > "$OUT/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
wrk.headers["Content-Type"] = "application/json"
LUA
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
round() { # pid port -> "us_per_request rps"
  local pid=$1 port=$2 before after requests report
  before=$(ticks "$pid")
  report=$(wrk -t2 -c64 -d"${DURATION}s" -s "$OUT/post.lua" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/v1/chat/completions")
  after=$(ticks "$pid")
  # A relay that refuses (401, 503) is fast and cheap: such a round measures nothing.
  if grep -q "Non-2xx" <<<"$report"; then echo "round on port $port had refused requests:" >&2; echo "$report" >&2; exit 1; fi
  requests=$(awk '/requests in/ { print $1 }' <<<"$report")
  awk -v t=$((after - before)) -v n="$requests" -v d="$DURATION" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f %.0f\n", t / hz * 1e6 / n, n / d }'
}
# Warm-up (JIT, connection pools), not counted.
for i in "${!NAMES[@]}"; do round "${RELAY_PIDS[$i]}" "${RELAY_PORTS[$i]}" >/dev/null; : > "$OUT/${NAMES[$i]}.txt"; done
count=${#NAMES[@]}
for r in $(seq 1 "$ROUNDS"); do
  # Rotate who goes first, so a drift in the machine's load does not favour one side.
  line="round $r:"
  for j in $(seq 0 $((count - 1))); do
    i=$(((j + r) % count))
    round "${RELAY_PIDS[$i]}" "${RELAY_PORTS[$i]}" >> "$OUT/${NAMES[$i]}.txt"
  done
  for i in "${!NAMES[@]}"; do line="$line ${NAMES[$i]} $(tail -1 "$OUT/${NAMES[$i]}.txt")"; done
  log "$line (µs/request, requests/s)"
done
median() { sort -n -k"$2" "$1" | awk -v k="$2" '{ v[NR] = $k } END { print v[int((NR + 1) / 2)] }'; }
first_cpu=$(median "$OUT/${NAMES[0]}.txt" 1)
for i in "${!NAMES[@]}"; do
  cpu=$(median "$OUT/${NAMES[$i]}.txt" 1); rps=$(median "$OUT/${NAMES[$i]}.txt" 2)
  printf '%-10s %-14s %s µs CPU/request, %s requests/s, %s× the CPU of %s  %s\n' "${NAMES[$i]}" "${REVS[$i]:-working tree}" "$cpu" "$rps" \
    "$(awk -v a="$cpu" -v b="$first_cpu" 'BEGIN { printf "%.2f", a / b }')" "${NAMES[0]}" "${ENVS[$i]}"
done
