#!/usr/bin/env bash
# CPU per relayed request, side by side: the request-path cost a change (or a setting) adds or removes, and the
# relay beside nginx and the floor as outsiders measure them (wrk against a static upstream).
#
#   bench/cpu-ab.sh <before-rev> [<after-rev>, default: the working tree]
#   BENCH_VARIANTS="off|HEAD|;metrics|HEAD|RELAY_METRICS_TOKEN=bench-metrics-token-0001" bench/cpu-ab.sh
#   BENCH_VARIANTS="nginx|@nginx|;floor|@floor|;relay||" bench/cpu-ab.sh
#
# Each variant (by default two: "before" and "after", the two revisions) is a revision published (Release) into
# bench/out-ab/ and started with the same settings plus its own VAR=value pairs (space-separated; @UPSTREAM@ stands for
# the static upstream's URL, which also answers 200 to OTLP exports; @LIMITED_KEY@ makes the variant send a client key
# created with every limit `keys create` offers, none reachable, instead of the shared RELAY_TOKEN). Two revisions are
# not relays: @nginx is Debian's nginx with the shipped site (deploy/nginx/openai-relay.conf minus TLS, everything in
# `location /` as shipped), @floor is bench/Floor (ASP.NET Core + YARP's IHttpForwarder with a token check, nothing
# else). Then, in interleaved rounds (BENCH_ROUNDS, default 5), each target in turn takes
# `wrk -t2 -c64 -d${BENCH_DURATION:-10}s` of POST /v1/chat/completions in front of a static nginx upstream (a fixed
# 650-byte chat completion with usage, as OpenAI sends it), so the upstream costs next to nothing and what is
# measured is the proxy's own work. CPU is the target's utime+stime from /proc over the round (for nginx, its
# workers'), divided by the requests wrk completed. Metering is on (the default); the request log is off
# (Logging__LogLevel__Default=Warning) unless a variant turns it back on with Logging__LogLevel__Default=Information.
# Prints the median µs/request and requests/s of each, each one's ratio to the first, and each target's resident
# memory idle (started, before any request) and after the rounds. Loopback only; needs wrk and nginx. On 2 shared
# cores rounds vary by ±20 %: read the medians, not one round.
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
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; for rev in "${REVS[@]}"; do [[ -z $rev || $rev == @* ]] || git worktree remove --force "$OUT/src-$rev" 2>/dev/null || true; done; }
trap cleanup EXIT
rm -rf "$OUT" && mkdir -p "$OUT/nginx/tmp"

# One publish per distinct revision; variants of the same revision share its build.
declare -A BUILT=()
publish() { # rev-or-empty -> the published directory
  local rev=$1 key=${1:-working-tree} src=$ROOT
  if [ "$rev" = @nginx ]; then return; fi
  if [ "$rev" = @floor ]; then
    if [ -z "${BUILT[floor]:-}" ]; then
      log "publishing bench/Floor"
      dotnet publish "$ROOT/bench/Floor/Floor.csproj" -c Release -o "$OUT/build-floor" --nologo -v quiet >/dev/null
      BUILT[floor]=$OUT/build-floor
    fi
    return
  fi
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
      add_header x-request-id req_bench0123456789abcdef;
      add_header openai-processing-ms 1;
      return 200 '{"id":"chatcmpl-BenchAbCdEfGhIjKlMnOpQrStUvWxYz","object":"chat.completion","created":1733400000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"2 + 2 = 4.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":14,"completion_tokens":8,"total_tokens":22,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_0123456789"}';
    }
  }
}
CONF
nginx -c "$OUT/nginx/nginx.conf" -g 'daemon off;' & PIDS+=($!)

# nginx with the shipped site in front of the static upstream, as bench/run.sh renders it.
# shellcheck source=bench/shipped-nginx.sh
source "$ROOT/bench/shipped-nginx.sh"
start_nginx_target() { # port -> master pid
  render_shipped_nginx "$OUT/nginx-target" "$1" "$UPSTREAM_PORT"
  nginx -p "$OUT/nginx-target" -c "$OUT/nginx-target/nginx.conf" -g 'daemon off;' > "$OUT/nginx-target.log" 2>&1 & PIDS+=($!)
  echo $!
}
TOKENS=()
start_target() { # index port -> pid
  local name=${NAMES[$1]} rev=${REVS[$1]} key=${REVS[$1]:-working-tree} extra=${ENVS[$1]//@UPSTREAM@/http://127.0.0.1:$UPSTREAM_PORT}
  extra=${extra//@LIMITED_KEY@/}
  case $rev in
    @nginx) start_nginx_target "$2"; return ;;
    @floor)
      env FLOOR_PORT="$2" FLOOR_UPSTREAM=http://127.0.0.1:$UPSTREAM_PORT FLOOR_TOKEN=$TOKEN FLOOR_API_KEY=sk-bench-upstream \
        "$OUT/build-floor/Floor" > "$OUT/$name.log" 2>&1 & PIDS+=($!)
      echo $!; return ;;
  esac
  mkdir -p "$OUT/data-$name"
  # shellcheck disable=SC2086 # the variant's VAR=value pairs are words on purpose
  env OPENAI_API_KEY=sk-bench-upstream RELAY_TOKEN=$TOKEN OPENAI_BASE_URL=http://127.0.0.1:$UPSTREAM_PORT PORT=$2 \
    RELAY_DATA_DIR="$OUT/data-$name" Logging__LogLevel__Default=Warning $extra \
    "$OUT/build-$key/openai-relay" > "$OUT/$name.log" 2>&1 & PIDS+=($!)
  echo $!
}
# The token each target is sent: the shared RELAY_TOKEN, or (@LIMITED_KEY@) a client key with every limit, made with
# the build's own CLI in the variant's data directory before it starts, so no cache is cold.
for i in "${!NAMES[@]}"; do
  TOKENS+=("$TOKEN")
  if [[ ${ENVS[$i]} == *@LIMITED_KEY@* ]]; then
    exe=$OUT/build-${REVS[$i]:-working-tree}/openai-relay
    help=$("$exe" keys create --help)
    args=(--rpm 1000000000 --max-concurrent 100000 --endpoints /v1/chat)
    for option in "--tpm 1000000000" "--budget-usd 1000000" "--budget-period month" "--models gpt-4o-mini*"; do
      grep -q -- "^ *${option%% *}[ ,<]" <<<"$help" && read -r -a pair <<<"$option" && args+=("${pair[@]}")
    done
    mkdir -p "$OUT/data-${NAMES[$i]}"
    TOKENS[i]=$(env OPENAI_API_KEY=sk-bench-upstream RELAY_DATA_DIR="$OUT/data-${NAMES[$i]}" "$exe" keys create bench-limited "${args[@]}" | head -1)
    [[ ${TOKENS[i]} == rk_live_* ]] || { echo "keys create printed no key for ${NAMES[$i]}" >&2; exit 1; }
  fi
done
RELAY_PIDS=(); RELAY_PORTS=(); port=18410
for i in "${!NAMES[@]}"; do
  port=$(free_port "$port"); RELAY_PORTS+=("$port")
  RELAY_PIDS+=("$(start_target "$i" "$port")")
  port=$((port + 1))
done
# start_target runs in a command substitution (a subshell): its PIDS+= is lost, so the targets are added here, or they
# would outlive the script and load every later run.
PIDS+=("${RELAY_PIDS[@]}")
for i in "${!NAMES[@]}"; do
  port=${RELAY_PORTS[$i]}
  for _ in $(seq 1 300); do
    code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${TOKENS[$i]}" "http://127.0.0.1:$port/v1/models" 2>/dev/null || true)
    [ "$code" = 200 ] && break; sleep 0.1
  done
  # For nginx the CPU and memory are its workers' (the master only supervises).
  if [ "${REVS[$i]}" = @nginx ]; then RELAY_PIDS[i]=$(pgrep -d, -P "${RELAY_PIDS[$i]}"); fi
done
rss_kb() { local total=0 pid; for pid in ${1//,/ }; do total=$((total + $(awk '/VmRSS/ { print $2 }' "/proc/$pid/status"))); done; echo "$total"; }
IDLE_RSS=(); for i in "${!NAMES[@]}"; do IDLE_RSS+=("$(rss_kb "${RELAY_PIDS[$i]}")"); done

cat > "$OUT/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
wrk.headers["Content-Type"] = "application/json"
LUA
ticks() { local total=0 pid; for pid in ${1//,/ }; do total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat"))); done; echo "$total"; }
round() { # pids port token -> "us_per_request rps"
  local pid=$1 port=$2 token=$3 before after requests report
  before=$(ticks "$pid")
  report=$(wrk -t2 -c64 -d"${DURATION}s" -s "$OUT/post.lua" -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v1/chat/completions")
  after=$(ticks "$pid")
  # A relay that refuses (401, 503) is fast and cheap: such a round measures nothing.
  if grep -q "Non-2xx" <<<"$report"; then echo "round on port $port had refused requests:" >&2; echo "$report" >&2; exit 1; fi
  requests=$(awk '/requests in/ { print $1 }' <<<"$report")
  awk -v t=$((after - before)) -v n="$requests" -v d="$DURATION" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f %.0f\n", t / hz * 1e6 / n, n / d }'
}
# Warm-up (JIT, connection pools), not counted.
for i in "${!NAMES[@]}"; do round "${RELAY_PIDS[$i]}" "${RELAY_PORTS[$i]}" "${TOKENS[$i]}" >/dev/null; : > "$OUT/${NAMES[$i]}.txt"; done
count=${#NAMES[@]}
for r in $(seq 1 "$ROUNDS"); do
  # Rotate who goes first, so a drift in the machine's load does not favour one side.
  line="round $r:"
  for j in $(seq 0 $((count - 1))); do
    i=$(((j + r) % count))
    round "${RELAY_PIDS[$i]}" "${RELAY_PORTS[$i]}" "${TOKENS[$i]}" >> "$OUT/${NAMES[$i]}.txt"
  done
  for i in "${!NAMES[@]}"; do line="$line ${NAMES[$i]} $(tail -1 "$OUT/${NAMES[$i]}.txt")"; done
  log "$line (µs/request, requests/s)"
done
median() { sort -n -k"$2" "$1" | awk -v k="$2" '{ v[NR] = $k } END { print v[int((NR + 1) / 2)] }'; }
first_cpu=$(median "$OUT/${NAMES[0]}.txt" 1)
for i in "${!NAMES[@]}"; do
  cpu=$(median "$OUT/${NAMES[$i]}.txt" 1); rps=$(median "$OUT/${NAMES[$i]}.txt" 2)
  printf '%-12s %-14s %s µs CPU/request, %s requests/s, %s× the CPU of %s, RSS idle %s MB, after %s MB  %s\n' "${NAMES[$i]}" "${REVS[$i]:-working tree}" "$cpu" "$rps" \
    "$(awk -v a="$cpu" -v b="$first_cpu" 'BEGIN { printf "%.2f", a / b }')" "${NAMES[0]}" \
    "$((IDLE_RSS[i] / 1024))" "$(($(rss_kb "${RELAY_PIDS[$i]}") / 1024))" "${ENVS[$i]}"
done
