#!/usr/bin/env bash
# Drives examples/http_server.rs in each mode at ~10x its capacity with wrk and prints one
# table: requests/s served (200), 503s, p50/p99 latency of the 200s (server-side, request read
# → answer written), queue wait p99, and the server's RSS at the end.
#
#   scripts/overload.sh            # 5 s per mode
#   DURATION=10 CONNECTIONS=512 scripts/overload.sh
#
# For humans, not CI: it installs wrk (Debian package) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5}        # seconds per mode
CONNECTIONS=${CONNECTIONS:-256}
WORKERS=${WORKERS:-4}
CAPACITY=${CAPACITY:-64}
WORK_MS=${WORK_MS:-5}          # capacity = WORKERS / WORK_MS = 800 req/s by default
MODES=${MODES:-"unbounded reject timeout shed"}

if ! command -v wrk >/dev/null; then
    echo "installing wrk..." >&2
    SUDO=$([ "$(id -u)" -eq 0 ] && echo "" || echo sudo)
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wrk >/dev/null
fi
cargo build --quiet --release --example http_server
server=target/release/examples/http_server

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
stat() { curl -s "http://127.0.0.1:$1/stats" | awk -v k="$2" '$1==k {print $2}'; }

printf '| mode | served req/s (200) | 503s | p50 of 200s | p99 of 200s | queue wait p99 | RSS at end |\n'
printf '|---|---|---|---|---|---|---|\n'
for mode in $MODES; do
    port=$(free_port)
    $server --mode "$mode" --port "$port" --workers "$WORKERS" --capacity "$CAPACITY" --work-ms "$WORK_MS" >/dev/null &
    pid=$!
    for _ in $(seq 50); do curl -s "http://127.0.0.1:$port/stats" >/dev/null && break; sleep 0.1; done
    wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 30s "http://127.0.0.1:$port/" >/tmp/overload-wrk-$mode.txt 2>&1 || true
    rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    ok=$(stat "$port" ok); rejected=$(stat "$port" rejected)
    p50=$(stat "$port" ok_p50_us); p99=$(stat "$port" ok_p99_us); wait99=$(stat "$port" wait_p99_us)
    kill "$pid"; wait "$pid" 2>/dev/null || true
    awk -v m="$mode" -v ok="$ok" -v rej="$rejected" -v d="$DURATION" -v p50="$p50" -v p99="$p99" -v w="$wait99" -v rss="$rss_kb" \
        'BEGIN { printf "| %s | %.0f | %d | %.1f ms | %.1f ms | %.1f ms | %.1f MiB |\n", m, ok/d, rej, p50/1000, p99/1000, w/1000, rss/1024 }'
done
