#!/usr/bin/env bash
# Serve the app for a trust or region: ROADMAP_WORKERS app processes (streamlit_app/server.py, as
# scripts/run.sh starts one) on internal loopback ports, behind nginx on ROADMAP_PORT.
#
# - nginx keeps each browser on one process (sticky by a routing cookie nginx sets itself, never
#   by client address: a whole hospital can sit behind one web proxy), proxies websockets, takes a
#   process that fails out of rotation, and answers /_stcore/health while any process is up.
# - The database is migrated once, before the processes start. More than one process needs
#   PostgreSQL (ROADMAP_DATABASE_URL); sign-ins, workshops, lockouts and the data version that
#   caches are checked against all live in the database, so any process serves any request.
# - This script watches the processes' health and restarts one that exits or stops answering;
#   SIGTERM (or Ctrl+C) stops everything it started.
# It installs nothing: it needs nginx (Debian package `nginx`) and the project set up
# (scripts/setup.sh). Settings: see the README, "Serve it for a trust or region".
set -euo pipefail
cd "$(dirname "$0")/.."

WORKERS="${ROADMAP_WORKERS:-2}"
PORT="${ROADMAP_PORT:-8501}"
LISTEN="${ROADMAP_LISTEN_ADDRESS:-0.0.0.0}"
FIRST_WORKER_PORT="${ROADMAP_WORKER_PORT:-18501}"
RUN_DIR="${ROADMAP_RUN_DIR:-data/serve}"
HEALTH_INTERVAL=5        # seconds between health checks of each process
HEALTH_FAILURES=3        # consecutive failed checks before a process is restarted
START_TIMEOUT=120        # seconds a process may take to answer its first health check

say() { echo "serve.sh: $*" >&2; }
fail() { say "$*"; exit 1; }

[[ "$WORKERS" =~ ^[1-9][0-9]?$ ]] || fail "ROADMAP_WORKERS must be a whole number from 1 to 99 (got '$WORKERS')"
[[ "$PORT" =~ ^[0-9]+$ && "$FIRST_WORKER_PORT" =~ ^[0-9]+$ ]] || fail "ROADMAP_PORT and ROADMAP_WORKER_PORT must be port numbers"
[ -x .venv/bin/python ] || fail "the project is not set up here: run scripts/setup.sh first"
NGINX="${ROADMAP_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
[ -x "$NGINX" ] || fail "nginx is not installed (looked for $NGINX). Install the Debian package: sudo apt-get install nginx (this script installs nothing)."
case "${ROADMAP_DEV_LOGIN:-0}" in
  1|true|yes|on) fail "ROADMAP_DEV_LOGIN is on: the development sign-in is for one local process (scripts/run.sh), never a served deployment" ;;
esac
export ROADMAP_DEV_LOGIN=0

# The database: which one (password hidden), is it allowed with this many processes, is it reachable.
DATABASE="$(.venv/bin/python -c 'from sqlalchemy.engine import make_url; from storage.settings import database_url; u = make_url(database_url()); print(u.get_backend_name(), u.render_as_string(hide_password=True))')"
BACKEND="${DATABASE%% *}"
if [ "$BACKEND" != "postgresql" ] && [ "$WORKERS" -gt 1 ]; then
  fail "$WORKERS processes need PostgreSQL: set ROADMAP_DATABASE_URL=postgresql+psycopg://user:password@host:5432/roadmap. SQLite serves one process (ROADMAP_WORKERS=1, or scripts/run.sh): its writers in different processes queue without fairness, so more processes would make saves slower, not faster."
fi
say "database: ${DATABASE#* }"
if ! .venv/bin/roadmap db upgrade >/dev/null; then
  fail "the database is unreachable or cannot be migrated (the reason is on the line above); nothing was started"
fi

mkdir -p "$RUN_DIR"
RUN_DIR="$(cd "$RUN_DIR" && pwd)"
# nginx's buffers for uploads live in their own folder, which nginx hands to its worker user.
NGINX_TEMP="$(mktemp -d /tmp/roadmap-nginx.XXXXXX)"
chmod 755 "$NGINX_TEMP"

declare -a PIDS=() FAILS=()
NGINX_PID=""
stop_all() {
  trap - TERM INT EXIT
  say "stopping"
  [ -n "$NGINX_PID" ] && kill -TERM "$NGINX_PID" 2>/dev/null || true
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 40); do
    alive=0
    for pid in "${PIDS[@]}" $NGINX_PID; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.25
  done
  for pid in "${PIDS[@]}" $NGINX_PID; do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$NGINX_TEMP"
}
trap 'stop_all; exit 0' TERM INT
trap 'stop_all' EXIT

worker_port() { echo $((FIRST_WORKER_PORT + $1)); }

healthy() {  # healthy PORT: does the process answer /_stcore/health with 200? (bash's /dev/tcp, no curl needed)
  local status
  status="$( { exec 3<>"/dev/tcp/127.0.0.1/$1" \
               && printf 'GET /_stcore/health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 \
               && IFS= read -r -t 5 line <&3 && echo "$line"; } 2>/dev/null )" || return 1
  [[ "$status" == *" 200 "* ]]
}

start_worker() {
  local index="$1" port
  port="$(worker_port "$index")"
  .venv/bin/streamlit run streamlit_app/server.py --server.address 127.0.0.1 --server.port "$port" \
    --server.headless true >>"$RUN_DIR/worker-$index.log" 2>&1 &
  PIDS[index]=$!
  echo "${PIDS[index]}" >"$RUN_DIR/worker-$index.pid"
  # A process just started gets its start-up time before failed checks count against it.
  FAILS[index]=$((-START_TIMEOUT / HEALTH_INTERVAL))
}

wait_healthy() {
  local index="$1" port deadline
  port="$(worker_port "$index")"
  deadline=$((SECONDS + START_TIMEOUT))
  until healthy "$port"; do
    kill -0 "${PIDS[index]}" 2>/dev/null || fail "process $index (port $port) exited while starting; see $RUN_DIR/worker-$index.log"
    [ "$SECONDS" -lt "$deadline" ] || fail "process $index (port $port) did not answer within $START_TIMEOUT s; see $RUN_DIR/worker-$index.log"
    sleep 0.5
  done
}

for index in $(seq 0 $((WORKERS - 1))); do
  port="$(worker_port "$index")"
  healthy "$port" && fail "port $port is already in use on 127.0.0.1: choose other internal ports with ROADMAP_WORKER_PORT"
  start_worker "$index"
done
for index in $(seq 0 $((WORKERS - 1))); do wait_healthy "$index"; FAILS[index]=0; done

# Streamlit's own scripts, styles and fonts, served by nginx from a copy compressed once here: a
# browser's first visit fetches about 60 of them, which cost an app process 50-60 ms of CPU each
# time (docs/benchmarks.md, load_serve.py). Their names carry a content hash, so
# browsers may keep them for good. The copy sits with nginx's other files, which its user can read.
STREAMLIT_STATIC="$(.venv/bin/python -c 'import pathlib, streamlit; print(pathlib.Path(streamlit.__file__).parent / "static")')"
mkdir -p "$NGINX_TEMP/app"
cp -R "$STREAMLIT_STATIC/static" "$NGINX_TEMP/app/static"
find "$NGINX_TEMP/app/static" -type f \( -name '*.js' -o -name '*.mjs' -o -name '*.css' -o -name '*.svg' -o -name '*.json' -o -name '*.ttf' \) \
  -size +1k -print0 | xargs -0 -r gzip -k -6
chmod -R a+rX "$NGINX_TEMP/app"

UPSTREAMS=""
for index in $(seq 0 $((WORKERS - 1))); do
  UPSTREAMS+="    server 127.0.0.1:$(worker_port "$index") max_fails=1 fail_timeout=10s;"$'\n'
done
USER_LINE=""
if [ "$(id -u)" = 0 ]; then
  USER_LINE="user $(id -u www-data >/dev/null 2>&1 && echo www-data || echo nobody);"
fi
cat >"$RUN_DIR/nginx.conf" <<EOF
# Written by scripts/serve.sh on each start; edit the script, not this file.
$USER_LINE
worker_processes 1;
pid $RUN_DIR/nginx.pid;
error_log $RUN_DIR/nginx-error.log warn;
events { worker_connections 4096; }
http {
    # No access log: addresses carry participants' seat tokens and join codes.
    access_log off;
    server_tokens off;
    client_body_temp_path $NGINX_TEMP/body;
    proxy_temp_path $NGINX_TEMP/proxy;
    fastcgi_temp_path $NGINX_TEMP/fastcgi;
    uwsgi_temp_path $NGINX_TEMP/uwsgi;
    scgi_temp_path $NGINX_TEMP/scgi;
    # Uploads up to the app's 20 MB limit (.streamlit/config.toml), plus form overhead.
    client_max_body_size 21m;

    map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
    # Affinity: a random routing key in a cookie nginx sets on the first request, so a browser's
    # page, websocket, uploads and media go to the same process.
    map \$cookie_roadmap_route \$roadmap_route { '' \$request_id; default \$cookie_roadmap_route; }
    map \$cookie_roadmap_route \$roadmap_route_cookie { '' "roadmap_route=\$request_id; Path=/; HttpOnly; SameSite=Lax"; default ''; }
    # Behind a TLS terminator that says so, the app marks its cookies Secure.
    map \$http_x_forwarded_proto \$forwarded_proto { '' \$scheme; default \$http_x_forwarded_proto; }

    upstream roadmap_app {
        hash \$roadmap_route consistent;
$UPSTREAMS    }

    server {
        listen $LISTEN:$PORT;
        # Streamlit's counters (sessions, caches) are for this host's monitoring, not the public.
        location = /_stcore/metrics { return 404; }
        location /static/ {
            root $NGINX_TEMP/app;
            gzip_static on;
            add_header Cache-Control "public, max-age=31536000, immutable";
            # What Streamlit ships: module scripts must come as JavaScript or browsers refuse them.
            types {
                text/javascript js mjs;
                text/css css;
                image/svg+xml svg;
                image/png png;
                image/gif gif;
                font/woff2 woff2;
                font/ttf ttf;
                application/json json;
            }
            default_type application/octet-stream;
        }
        location / {
            proxy_pass http://roadmap_app;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
            proxy_set_header Host \$http_host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$forwarded_proto;
            proxy_connect_timeout 2s;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            proxy_buffering off;
            # A process that refuses or drops a request is skipped for 10 s; the next one answers.
            proxy_next_upstream error timeout http_502 http_503;
            add_header Set-Cookie \$roadmap_route_cookie always;
        }
    }
}
EOF
"$NGINX" -t -q -p "$RUN_DIR" -c "$RUN_DIR/nginx.conf" 2>>"$RUN_DIR/nginx-error.log" \
  || fail "nginx refused its configuration: $(tail -n 3 "$RUN_DIR/nginx-error.log")"
"$NGINX" -p "$RUN_DIR" -c "$RUN_DIR/nginx.conf" -g 'daemon off;' 2>>"$RUN_DIR/nginx-error.log" &
NGINX_PID=$!
deadline=$((SECONDS + 20))
until healthy "$PORT"; do
  kill -0 "$NGINX_PID" 2>/dev/null || fail "nginx could not start on $LISTEN:$PORT: $(tail -n 3 "$RUN_DIR/nginx-error.log")"
  [ "$SECONDS" -lt "$deadline" ] || fail "nginx did not answer on port $PORT within 20 s"
  sleep 0.25
done
say "serving on http://$LISTEN:$PORT with $WORKERS processes (ports $FIRST_WORKER_PORT-$(worker_port $((WORKERS - 1))) on 127.0.0.1); logs in $RUN_DIR"

# Watch: restart a process that exits or stops answering; stop everything if nginx goes.
while true; do
  sleep "$HEALTH_INTERVAL" & wait $!
  kill -0 "$NGINX_PID" 2>/dev/null || fail "nginx stopped; see $RUN_DIR/nginx-error.log"
  for index in $(seq 0 $((WORKERS - 1))); do
    port="$(worker_port "$index")"
    if ! kill -0 "${PIDS[index]}" 2>/dev/null; then
      say "process $index (port $port) exited; restarting it"
      start_worker "$index"
    elif healthy "$port"; then
      [ "${FAILS[index]}" -lt 0 ] && say "process $index (port $port) is back"
      FAILS[index]=0
    else
      FAILS[index]=$((FAILS[index] + 1))
      if [ "${FAILS[index]}" -ge "$HEALTH_FAILURES" ]; then
        say "process $index (port $port) failed $HEALTH_FAILURES health checks; restarting it"
        kill -KILL "${PIDS[index]}" 2>/dev/null || true
        wait "${PIDS[index]}" 2>/dev/null || true
        start_worker "$index"
      fi
    fi
  done
done
