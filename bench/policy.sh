#!/usr/bin/env bash
# bench/policy.sh: what the acceptable-use policy engine costs.
#
# One store, seeded with the state of a busy provider (bench/policy/seed.py):
# ACCOUNTS mailboxes in DOMAINS domains (ten domains per customer), hourly
# counts for every account and domain, and RCPTS recipients tracked in the
# bulk window (R-OUT-8). Then the same submission load runs against the
# server with every rule on (policy.enforce = true) and with the policy
# engine off (policy.enforce = false: only relay protection, recipient
# checks, authentication and size remain), alternately, a warm-up run and
# then ROUNDS runs each:
#   SESSIONS sessions over STARTTLS, each logging in (AUTH PLAIN) as the
#   next account of the seeded ones every PER_LOGIN messages, send MESSAGES
#   messages of SIZE bytes, each with its own text (so that the bulk rule
#   fingerprints, looks up, counts and records every one), one remote
#   recipient each, relayed to a sink on loopback.
# The hourly limits are raised so that no account is held (the rules still
# run and count); the bulk threshold keeps its default (250).
#
# Prints each run with the server's CPU time per message, the ratio of the
# medians (throughput on / off, and CPU per message off / on), and what the bulk
# window costs per tracked recipient: on disk, and in the server's
# resident memory (RSS once ready, with the window empty and loaded), for
# a window of campaigns and for one of personal mail.
#
#   bench/policy.sh                          # defaults below
#   RCPTS=100000 MESSAGES=2000 bench/policy.sh   # quick check
#   SERVER_LOG=info,mailhost_delivery=trace SINK_DEADLINE=120 bench/policy.sh
#                                            # server log filter; how long a sink waits
set -euo pipefail
cd "$(dirname "$0")/.."

ACCOUNTS=${ACCOUNTS:-10000}
DOMAINS=${DOMAINS:-1000}
RCPTS=${RCPTS:-1000000}
MESSAGES=${MESSAGES:-10000}
SESSIONS=${SESSIONS:-32}
PER_LOGIN=${PER_LOGIN:-100}
SIZE=${SIZE:-4096}
ROUNDS=${ROUNDS:-5}
WORK=${WORK:-/var/tmp/mailhost-bench/policy}
SUB=127.0.0.1:4587
SINK=127.0.0.1:4600
DNS=127.0.0.1:4553

cargo build --release -q -p mailhost -p mailhost-bench
MH=$PWD/target/release/mailhost
LOAD=$PWD/target/release/mailhost-bench

rm -rf "$WORK" && mkdir -p "$WORK/data"
for mode in on off; do
    enforce=$([ $mode = on ] && echo true || echo false)
    cat > "$WORK/$mode.toml" <<TOML
[server]
hostname = "bench.local"
data_dir = "$WORK/data"
[listen]
smtp = ""
pop3 = ""
pop3s = ""
imap = ""
imaps = ""
submission = "$SUB"
submissions = ""
http = ""
[delivery]
routes = { "remote.test" = "$SINK" }
dns_server = "$DNS"
per_domain = 16
[policy]
enforce = $enforce
hourly_limit = 100000000
domain_hourly_limit = 100000000
[limits]
connections_per_ip = 5000
max_connections = 5000
TOML
done
mh() { "$MH" --config "$WORK/on.toml" "$@"; }
DB=$WORK/data/mailhost.db

echo "== $(date -u '+%F %H:%M') UTC, $(nproc) cores, $(uname -m); seeding $ACCOUNTS accounts, $DOMAINS domains, $RCPTS tracked recipients"
mh domain add tpl.test --contact boss-tpl@cust.test >/dev/null
mh user add u@tpl.test --password bench-pw >/dev/null
python3 bench/policy/seed.py accounts "$DB" u@tpl.test "$ACCOUNTS" "$DOMAINS" "$WORK/accounts" bench-pw
python3 bench/compare/dns-stub.py "$DNS" > "$WORK/dns.log" 2>&1 &
DNSPID=$!
PID=
trap 'kill -TERM $DNSPID $PID 2>/dev/null || true' EXIT

start_server() {  # $1: on|off; sets PID, and RSS (kB) once ready
    rm -f "$WORK/stdout"
    RUST_LOG=${SERVER_LOG:-info} "$MH" --config "$WORK/$1.toml" serve > "$WORK/stdout" 2> "$WORK/server-$1-${2:-0}.log" &
    PID=$!
    for _ in $(seq 1 600); do grep -q "mailhost: ready" "$WORK/stdout" 2>/dev/null && break; sleep 0.1; done
    grep -q "mailhost: ready" "$WORK/stdout" || { echo "server did not start" >&2; exit 1; }
    RSS=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
}
stop_server() { kill -TERM $PID && wait $PID || true; PID=; }

# Memory: the server's RSS once ready, with an empty window and with the
# window loaded (it is read into memory at start): a window of campaigns
# (20 recipients per content), then one of personal mail (one recipient per
# content, the most per recipient), which the runs below then use.
start_server on empty; rss_empty=$RSS; stop_server
for per in 20 1; do
    python3 bench/policy/seed.py window "$DB" "$ACCOUNTS" "$DOMAINS" "$RCPTS" 86400 $per
    start_server on loaded-$per; rss_loaded=$RSS; stop_server
    grep -o 'bulk window loaded.*' "$WORK/server-on-loaded-$per.log" | tail -1
    echo "bulk window in memory ($per per content): RSS $((rss_empty / 1024)) MB with an empty window, $((rss_loaded / 1024)) MB with it loaded = $(( (rss_loaded - rss_empty) * 1024 / RCPTS )) bytes per tracked recipient"
done

declare -A rates cpus
# The server's CPU time so far (user + system), in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
run() {
    local mode=$1 round=$2
    start_server "$mode" "$round"
    local cpu0
    cpu0=$(cpu_ticks)
    "$LOAD" sink --listen "$SINK" --expect "$MESSAGES" --deadline ${SINK_DEADLINE:-600} > "$WORK/sink-$mode-$round.log" &
    local sink=$!
    sleep 0.3
    local out
    out=$("$LOAD" smtp --addr "$SUB" --sessions "$SESSIONS" --messages "$MESSAGES" --size "$SIZE" --starttls \
        --accounts "$WORK/accounts" --per-login "$PER_LOGIN" --vary --domain remote.test --mailboxes 1000000)
    wait $sink
    local rss cpu
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
    # Server CPU per message, in microseconds: the engine's cost without
    # the noise of two cores shared with the load generator.
    cpu=$(( ($(cpu_ticks) - cpu0) * 1000000 / $(getconf CLK_TCK) / MESSAGES ))
    stop_server
    local rate
    rate=$(echo "$out" | sed -n 's/.*= \([0-9]*\) msg\/s.*/\1/p')
    [ "$round" = warmup ] || { rates[$mode]="${rates[$mode]:-} $rate"; cpus[$mode]="${cpus[$mode]:-} $cpu"; }
    echo "policy $mode, round $round: $out; server CPU $cpu us per message; RSS after the run $((rss / 1024)) MB"
}
# A first run of each warms the caches (page cache, SQLite, TLS); it is
# shown but not counted.
run on warmup
run off warmup
for round in $(seq 1 "$ROUNDS"); do
    run on "$round"
    run off "$round"
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
on=$(echo "${rates[on]}" | median)
off=$(echo "${rates[off]}" | median)
echo "median: policy on $on msg/s, off $off msg/s: on/off = $(echo "scale=3; $on / $off" | bc)"
con=$(echo "${cpus[on]}" | median)
coff=$(echo "${cpus[off]}" | median)
echo "median server CPU per message: policy on $con us, off $coff us: off/on = $(echo "scale=3; $coff / $con" | bc)"
