#!/usr/bin/env bash
# mailhost's own benchmark, on loopback:
#   1. durable SMTP acceptance: SESSIONS concurrent sessions send MESSAGES
#      messages of SIZE bytes to 32 mailboxes;
#   2. POP3 retrieval of a mailbox holding POP_MESSAGES messages with
#      pipelined RETR;
#   3. memory per idle connection with IDLE connections open;
#   4. authenticated submission over STARTTLS (local recipients);
#   5. end to end: submission to a remote domain routed to an SMTP sink,
#      timed until the sink has every message;
#   6. SMTP acceptance as in 1 with the DNS resolver up (the stub), then
#      with it down (a loopback port where nothing answers: every SPF,
#      DKIM and DMARC lookup would time out), and the ratio. Last: it
#      restarts the server with the dead resolver.
# Usage: bench/run.sh        (STORE=postgres://… to bench on PostgreSQL;
#                             PHASES="4 5" runs only those phases;
#                             RESOLVER_MESSAGES=N for phase 6, default 40000;
#                             MH=path runs another mailhost binary;
#                             EXTRA=$'[dkim]\nsign = false' adds settings)
set -euo pipefail
cd "$(dirname "$0")/.."

SESSIONS=${SESSIONS:-32}
MESSAGES=${MESSAGES:-20000}
SIZE=${SIZE:-4096}
POP_MESSAGES=${POP_MESSAGES:-10000}
IDLE=${IDLE:-1000}
WORK=${WORK:-/var/tmp/mailhost-bench/run}
PHASES=${PHASES:-1 2 3 4 5 6}
phase() { [[ " $PHASES " == *" $1 "* ]]; }

cargo build --release -q -p mailhost -p mailhost-bench
MH=${MH:-$PWD/target/release/mailhost}
LOAD=$PWD/target/release/mailhost-bench

rm -rf "$WORK" && mkdir -p "$WORK"
STORE_URL=${STORE:-sqlite://$WORK/data/mailhost.db}
cat > "$WORK/mailhost.toml" <<TOML
[server]
hostname = "bench.local"
data_dir = "$WORK/data"
[store]
url = "$STORE_URL"
[listen]
smtp = "127.0.0.1:3525"
pop3 = "127.0.0.1:3110"
pop3s = ""
imap = ""
imaps = ""
submission = "127.0.0.1:3587"
submissions = ""
http = ""
[delivery]
routes = { "remote.test" = "127.0.0.1:3600" }
# SPF/DKIM/DMARC lookups for mail on port 25 go to a stub on loopback
# that answers NXDOMAIN at once (no outside DNS here).
dns_server = "127.0.0.1:3553"
per_domain = 16
[policy]
# The load is one account sending to many: lift the hourly limits
# (R-OUT-6/7) so the benchmark measures throughput, not the policy.
hourly_limit = 100000000
domain_hourly_limit = 100000000
[limits]
connections_per_ip = 5000
max_connections = 5000
${EXTRA:-}
TOML
mh() { "$MH" --config "$WORK/mailhost.toml" "$@"; }

mh domain add bench.test --contact admin@bench.test >/dev/null
mh domain add big.test --contact admin@big.test >/dev/null
for i in $(seq 0 31); do mh user add "user$i@bench.test" --password bench-pw >/dev/null; done
mh user add user0@big.test --password bench-pw >/dev/null

python3 bench/compare/dns-stub.py 127.0.0.1:3553 > "$WORK/dns.log" 2>&1 &
DNS=$!
SILENT=
start_server() {
    RUST_LOG=warn "$MH" --config "$WORK/mailhost.toml" serve > "$WORK/stdout" 2>> "$WORK/server.log" &
    PID=$!
    for _ in $(seq 1 100); do grep -q "mailhost: ready" "$WORK/stdout" 2>/dev/null && break; sleep 0.1; done
}
start_server
trap 'kill -TERM $PID $DNS $SILENT 2>/dev/null; wait $PID 2>/dev/null || true' EXIT

if [ -n "${PERF:-}" ]; then
    # PERF=1: a call-graph profile of the server over the run ($WORK/perf.data).
    perf record -q -F 499 -g -p "$PID" -o "$WORK/perf.data" 2>/dev/null &
    PERFPID=$!
    trap 'kill -INT $PERFPID 2>/dev/null; sleep 1; kill -TERM $PID $DNS 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
fi
# CPU time (user + system): the server's in clock ticks, and in hundredths
# of a second that of this shell's finished children (the load client and
# the sink). `times` must run in this shell, not in a $(…) subshell, to see
# them: it writes to a file.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
child_cs() { awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } print int(t * 100) }' "$WORK/times"; }
cpu_mark() { SCPU0=$(cpu_ticks); times > "$WORK/times"; CCS0=$(child_cs); }
# CPU per message since cpu_mark, for $1 messages.
cpu_report() {
    local hz scpu; hz=$(getconf CLK_TCK); scpu=$(cpu_ticks)
    times > "$WORK/times"
    echo "CPU per message: server $(( (scpu - SCPU0) * 1000000 / hz / $1 )) us, load client and sink $(( ($(child_cs) - CCS0) * 10000 / $1 )) us"
}
echo "== $(date -u +%F) $(nproc) cores, $(uname -m), store $(echo "$STORE_URL" | cut -d: -f1)"
if phase 1; then
echo "== 1. durable SMTP acceptance"
"$LOAD" smtp --addr 127.0.0.1:3525 --sessions "$SESSIONS" --messages "$MESSAGES" --size "$SIZE" --domain bench.test --mailboxes 32

fi
if phase 2; then
echo "== 2. POP3 retrieval of a $POP_MESSAGES-message mailbox"
"$LOAD" smtp --addr 127.0.0.1:3525 --sessions "$SESSIONS" --messages "$POP_MESSAGES" --size "$SIZE" --domain big.test --mailboxes 1 >/dev/null
"$LOAD" pop3 --addr 127.0.0.1:3110 --users user0@big.test --password bench-pw --window 64

fi
if phase 3; then
echo "== 3. idle connections"
rss() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
before=$(rss)
"$LOAD" idle --addr 127.0.0.1:3525 --connections "$IDLE" --hold 4 &
LP=$!
sleep 3
during=$(rss)
wait $LP
echo "idle: RSS $before kB before, $during kB with $IDLE connections = $(( (during - before) * 1024 / IDLE )) bytes per connection"

fi
if phase 4; then
echo "== 4. authenticated submission (STARTTLS + AUTH PLAIN), local recipients"
cpu_mark
"$LOAD" smtp --addr 127.0.0.1:3587 --sessions "$SESSIONS" --messages "$MESSAGES" --size "$SIZE" --domain bench.test --mailboxes 32 \
    --starttls --auth user0@bench.test:bench-pw --from user0@bench.test
cpu_report "$MESSAGES"

fi
if phase 5; then
echo "== 5. end to end: submission to a remote domain, delivered to a sink"
"$LOAD" sink --listen 127.0.0.1:3600 --expect "$MESSAGES" --deadline 600 &
SINK=$!
sleep 0.3
cpu_mark
t0=$(date +%s.%N)
"$LOAD" smtp --addr 127.0.0.1:3587 --sessions "$SESSIONS" --messages "$MESSAGES" --size "$SIZE" --domain remote.test --mailboxes 32 \
    --starttls --auth user0@bench.test:bench-pw --from user0@bench.test
wait $SINK
t1=$(date +%s.%N)
echo "end to end: $MESSAGES messages submitted and delivered in $(echo "$t1 - $t0" | bc -l | cut -c1-6)s = $(echo "$MESSAGES / ($t1 - $t0)" | bc -l | cut -d. -f1) msg/s"
cpu_report "$MESSAGES"
fi
if phase 6; then
echo "== 6. SMTP acceptance with the DNS resolver up, then down"
N6=${RESOLVER_MESSAGES:-40000}
rate() { sed -n 's/.* = \([0-9]*\) msg\/s.*/\1/p'; }
"$LOAD" smtp --addr 127.0.0.1:3525 --sessions "$SESSIONS" --messages "$N6" --size "$SIZE" --domain bench.test --mailboxes 32 | tee "$WORK/up.txt"
up=$(rate < "$WORK/up.txt")
# Down: a UDP socket that reads nothing, so every query goes unanswered
# (no ICMP refusal either: the worst case, a resolver that is gone).
python3 -c 'import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 3554)); time.sleep(3600)' &
SILENT=$!
kill -TERM $PID; wait $PID 2>/dev/null || true
sed -i 's/^dns_server = .*/dns_server = "127.0.0.1:3554"/' "$WORK/mailhost.toml"
start_server
"$LOAD" smtp --addr 127.0.0.1:3525 --sessions "$SESSIONS" --messages "$N6" --size "$SIZE" --domain bench.test --mailboxes 32 | tee "$WORK/down.txt"
down=$(rate < "$WORK/down.txt")
grep -q "DNS resolver not answering" "$WORK/server.log" && echo "(the server's log: DNS resolver not answering)"
echo "resolver down: $down msg/s vs $up msg/s up = $(echo "scale=2; $down / $up" | bc -l)x"
fi
