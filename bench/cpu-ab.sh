#!/usr/bin/env bash
# CPU per relayed request, two revisions side by side: the request-path cost an issue adds or removes.
#
#   bench/cpu-ab.sh <before-rev> [<after-rev>, default: the working tree]
#
# Each revision is published (Release) into bench/out-ab/, then, in interleaved rounds (BENCH_ROUNDS, default 5), each
# relay in turn takes `wrk -t2 -c64 -d${BENCH_DURATION:-10}s` of POST /v1/chat/completions in front of a static nginx
# upstream (a fixed JSON chat completion with usage), so the upstream costs next to nothing and what is measured is the
# relay's own work. CPU is the relay process's utime+stime from /proc over the round, divided by the requests wrk
# completed. Metering is on (the default). Prints the median µs/request and requests/s of each, and their ratio.
# Loopback only; needs wrk and nginx. On 2 shared cores rounds vary by ±20 %: read the medians, not one round.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BEFORE=${1:?usage: bench/cpu-ab.sh <before-rev> [<after-rev>]}
AFTER=${2:-}
ROUNDS=${BENCH_ROUNDS:-5}
DURATION=${BENCH_DURATION:-10}
OUT=$ROOT/bench/out-ab
TOKEN=rt-bench-client
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

log() { printf '[cpu-ab %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
free_port() { local p=$1; while ss -Hltn "sport = :$p" | grep -q .; do p=$((p + 1)); done; echo "$p"; }
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; git worktree remove --force "$OUT/src-before" 2>/dev/null || true; [ -z "$AFTER" ] || git worktree remove --force "$OUT/src-after" 2>/dev/null || true; }
trap cleanup EXIT
rm -rf "$OUT" && mkdir -p "$OUT/nginx/tmp"

publish() { # name rev-or-empty
  local name=$1 rev=$2 src=$ROOT
  if [ -n "$rev" ]; then git worktree add --detach -f "$OUT/src-$name" "$rev" >/dev/null 2>&1; src=$OUT/src-$name; fi
  log "publishing $name (${rev:-working tree})"
  dotnet publish "$src/src/OpenAiRelay/OpenAiRelay.csproj" -c Release -o "$OUT/$name" --nologo -v quiet >/dev/null
}
publish before "$BEFORE"
publish after "$AFTER"

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

start_relay() { # name port
  mkdir -p "$OUT/data-$1"
  OPENAI_API_KEY=sk-bench-upstream RELAY_TOKEN=$TOKEN OPENAI_BASE_URL=http://127.0.0.1:$UPSTREAM_PORT PORT=$2 \
    RELAY_DATA_DIR=$OUT/data-$1 Logging__LogLevel__Default=Warning \
    "$OUT/$1/openai-relay" > "$OUT/$1.log" 2>&1 & PIDS+=($!)
  echo $!
}
BEFORE_PORT=$(free_port 18410); BEFORE_PID=$(start_relay before "$BEFORE_PORT")
AFTER_PORT=$(free_port $((BEFORE_PORT + 1))); AFTER_PID=$(start_relay after "$AFTER_PORT")
# start_relay runs in a command substitution (a subshell): its PIDS+= is lost, so the relays are added here, or they
# would outlive the script and load every later run.
PIDS+=("$BEFORE_PID" "$AFTER_PID")
for port in "$BEFORE_PORT" "$AFTER_PORT"; do
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
round "$BEFORE_PID" "$BEFORE_PORT" >/dev/null; round "$AFTER_PID" "$AFTER_PORT" >/dev/null
: > "$OUT/before.txt"; : > "$OUT/after.txt"
for i in $(seq 1 "$ROUNDS"); do
  # Alternate who goes first, so a drift in the machine's load does not favour one side.
  if [ $((i % 2)) -eq 1 ]; then
    round "$BEFORE_PID" "$BEFORE_PORT" >> "$OUT/before.txt"; round "$AFTER_PID" "$AFTER_PORT" >> "$OUT/after.txt"
  else
    round "$AFTER_PID" "$AFTER_PORT" >> "$OUT/after.txt"; round "$BEFORE_PID" "$BEFORE_PORT" >> "$OUT/before.txt"
  fi
  log "round $i: before $(tail -1 "$OUT/before.txt"), after $(tail -1 "$OUT/after.txt") (µs/request, requests/s)"
done
median() { sort -n -k"$2" "$1" | awk -v k="$2" '{ v[NR] = $k } END { print v[int((NR + 1) / 2)] }'; }
b_cpu=$(median "$OUT/before.txt" 1); a_cpu=$(median "$OUT/after.txt" 1)
b_rps=$(median "$OUT/before.txt" 2); a_rps=$(median "$OUT/after.txt" 2)
printf 'before %s: %s µs CPU/request, %s requests/s\n' "$BEFORE" "$b_cpu" "$b_rps"
printf 'after  %s: %s µs CPU/request, %s requests/s\n' "${AFTER:-working tree}" "$a_cpu" "$a_rps"
awk -v a="$a_cpu" -v b="$b_cpu" 'BEGIN { printf "after/before CPU per request: %.2f×\n", a / b }'
