# Sourced by bench/run.sh and bench/cpu-ab.sh: nginx with the shipped site, minus TLS, in front of a loopback upstream.
#
#   render_shipped_nginx DIR LISTEN_PORT UPSTREAM_PORT   # writes DIR/site.conf and DIR/nginx.conf
#
# The listen lines become one plain-HTTP loopback port, the ssl_* lines and the port-80 redirect server go, and the
# upstream is the given port instead of the relay. Everything in location / is exactly as shipped (no buffering
# either way, HTTP/1.1 keep-alive pool of 32, WebSocket upgrade map). The main context is Debian's defaults
# (worker_processes auto, sendfile, access log on) except worker_connections: 1,000 proxied streams need 2,000
# connections, above Debian's 768.
render_shipped_nginx() {
  local dir=$1 port=$2 upstream=$3
  mkdir -p "$dir/tmp"
  awk -v port="$port" -v upstream="$upstream" '
    /^# Plain HTTP/ { skip = 1 }
    skip && /^}/ { skip = 0; next }
    skip { next }
    /^[[:space:]]*ssl_/ { next }
    /listen \[::\]:443/ { next }
    /listen 443/ { sub(/listen 443 ssl http2;/, "listen 127.0.0.1:" port ";") }
    /server 127\.0\.0\.1:3001;/ { sub(/127\.0\.0\.1:3001/, "127.0.0.1:" upstream) }
    { print }
  ' "$ROOT/deploy/nginx/openai-relay.conf" > "$dir/site.conf"
  cat > "$dir/nginx.conf" <<NGINX
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 8192; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    access_log $dir/access.log;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    include $dir/site.conf;
}
NGINX
}
