#!/usr/bin/env bash
# The panels' and API's benchmark (issue 12), on loopback, SQLite by default:
#   1. one domain, MAILBOXES (10,000) mailboxes created through the JSON
#      API by WORKERS (4) clients: the total time, and each creation's
#      latency (p50, p99); then 200 sequential creations and 200
#      sequential PATCHes (a write with its audit record but no password
#      hash), whose difference estimates the Argon2 share.
#   2. wrk (Debian's) for DURATION (10 s) with 8 connections against the
#      JSON mailbox list (first page, last page), a prefix search, and the
#      HTML mailbox page of the domain-admin panel: p50 and p99.
# Usage: bench/web.sh   (MAILBOXES=N, WORKERS=N, DURATION=10s, STORE=postgres://…)
set -euo pipefail
cd "$(dirname "$0")/.."

MAILBOXES=${MAILBOXES:-10000}
WORKERS=${WORKERS:-4}
DURATION=${DURATION:-10s}
WORK=${WORK:-/var/tmp/mailhost-bench/web}
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }

cargo build --release -q -p mailhost
MH=$PWD/target/release/mailhost
rm -rf "$WORK" && mkdir -p "$WORK"
STORE_URL=${STORE:-sqlite://$WORK/data/mailhost.db}
cat > "$WORK/mailhost.toml" <<TOML
[server]
hostname = "bench.local"
data_dir = "$WORK/data"
[store]
url = "$STORE_URL"
[listen]
smtp = ""
submission = ""
submissions = ""
pop3 = ""
pop3s = ""
imap = ""
imaps = ""
http = "127.0.0.1:3080"
https = "127.0.0.1:3443"
[dkim]
rsa_bits = 1024
[limits]
connections_per_ip = 5000
max_connections = 5000
TOML
mh() { "$MH" --config "$WORK/mailhost.toml" "$@"; }
RUST_LOG=warn "$MH" --config "$WORK/mailhost.toml" serve > "$WORK/stdout" 2>> "$WORK/server.log" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do grep -q "mailhost: ready" "$WORK/stdout" 2>/dev/null && break; sleep 0.1; done
mh domain add bench.test --contact boss@bench.test >/dev/null
mh admin add ops --operator --password ops-bench-pw >/dev/null
mh admin add tech --domain bench.test --password tech-bench-pw >/dev/null
TOKEN=$(mh token create ops 2>/dev/null)

echo "== 1. $MAILBOXES mailboxes through POST /api/v1/domains/bench.test/users, $WORKERS clients"
python3 - "$TOKEN" "$MAILBOXES" "$WORKERS" <<'PY'
import http.client, json, sys, time, threading
token, n, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
H = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
def pct(xs, p): xs = sorted(xs); return xs[min(len(xs) - 1, int(len(xs) * p))] * 1000
lat, lock = [], threading.Lock()
def work(ids):
    c = http.client.HTTPConnection("127.0.0.1", 3080, timeout=60)
    mine = []
    for i in ids:
        body = json.dumps({"address": f"u{i:05}@bench.test", "password": f"pw-{i}-bench"})
        t = time.perf_counter()
        c.request("POST", "/api/v1/domains/bench.test/users", body, H)
        r = c.getresponse(); r.read()
        mine.append(time.perf_counter() - t)
        assert r.status == 201, r.status
    with lock: lat.extend(mine)
t0 = time.perf_counter()
ts = [threading.Thread(target=work, args=(range(w, n, workers),)) for w in range(workers)]
[t.start() for t in ts]; [t.join() for t in ts]
total = time.perf_counter() - t0
print(f"created {n} in {total:.1f} s ({n / total:.0f}/s); latency p50 {pct(lat, .5):.1f} ms, p99 {pct(lat, .99):.1f} ms")
c = http.client.HTTPConnection("127.0.0.1", 3080, timeout=60)
def seq(method, path, body, want):
    xs = []
    for i in range(200):
        t = time.perf_counter()
        c.request(method, path(i), json.dumps(body(i)), H)
        r = c.getresponse(); r.read()
        xs.append(time.perf_counter() - t)
        assert r.status == want, (r.status, path(i))
    return xs
create = seq("POST", lambda i: "/api/v1/domains/bench.test/users", lambda i: {"address": f"s{i:03}@bench.test", "password": "pw-seq-bench"}, 201)
patch = seq("PATCH", lambda i: f"/api/v1/users/s{i:03}@bench.test", lambda i: {"suspended": False}, 200)
print(f"sequential: create p50 {pct(create, .5):.1f} ms p99 {pct(create, .99):.1f} ms; "
      f"PATCH (no hash) p50 {pct(patch, .5):.1f} ms p99 {pct(patch, .99):.1f} ms; "
      f"Argon2 share ~{pct(create, .5) - pct(patch, .5):.1f} ms")
PY

echo "== 2. wrk, 8 connections, $DURATION each"
COOKIE=$(curl -sk -o /dev/null -D - -d "login=tech&password=tech-bench-pw" https://127.0.0.1:3443/login \
    | sed -n 's/^set-cookie: \(__Host-mh_session=[0-9a-f]*\).*/\1/ip')
LAST=$(printf 'u%05d@bench.test' $((MAILBOXES - 51)))
run() { # $1: name, $2: path, $3...: wrk header args
    local name=$1 path=$2; shift 2
    out=$(wrk -t2 -c8 -d"$DURATION" --latency "$@" "http://127.0.0.1:3080$path")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    printf '%-34s %9s req/s  p50 %8s  p99 %8s  %s\n' "$name" "$rps" "$p50" "$p99" "${non2xx:+non-2xx: $non2xx}"
}
API=(-H "Authorization: Bearer $TOKEN")
run "JSON list, first page (50)" "/api/v1/domains/bench.test/users?limit=50" "${API[@]}"
run "JSON list, last page (50)" "/api/v1/domains/bench.test/users?limit=50&cursor=$LAST" "${API[@]}"
run "JSON prefix search u099" "/api/v1/domains/bench.test/users?prefix=u099" "${API[@]}"
run "HTML mailbox page (50 rows)" "/d/bench.test" -H "Cookie: $COOKIE"
run "HTML search u099" "/d/bench.test?q=u099" -H "Cookie: $COOKIE"
