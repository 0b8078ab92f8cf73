#!/usr/bin/env bash
# Mailbox services benchmarks (issue 11), on loopback, SQLite by default:
#   1. all@ fan-out: one message submitted to all@ of a domain with
#      FANOUT mailboxes (1,000); the time from DATA to the 250 (every copy
#      is committed before it) and the disk the message took (one body,
#      not FANOUT).
#   2. read-mail retention: PURGE entries (1,000,000), all read, expire at
#      once; the time until the job has deleted them all, the server's peak
#      memory, and SMTP acceptance (bench phase 1 load, LOAD_MESSAGES) with
#      and without the purge running, in one run.
# Usage: bench/mailbox.sh     (FANOUT=N, PURGE=N, FANOUT_SIZE=bytes,
#                              LOAD_MESSAGES=N, PHASES="1 2")
set -euo pipefail
cd "$(dirname "$0")/.."

FANOUT=${FANOUT:-1000}
FANOUT_SIZE=${FANOUT_SIZE:-102400}
PURGE=${PURGE:-1000000}
LOAD_MESSAGES=${LOAD_MESSAGES:-20000}
PHASES=${PHASES:-1 2}
WORK=${WORK:-/var/tmp/mailhost-bench/mailbox}
phase() { [[ " $PHASES " == *" $1 "* ]]; }

cargo build --release -q -p mailhost -p mailhost-bench
MH=$PWD/target/release/mailhost
LOAD=$PWD/target/release/mailhost-bench

config() { # $1: read_retention
cat > "$WORK/mailhost.toml" <<TOML
[server]
hostname = "bench.local"
data_dir = "$WORK/data"
[store]
url = "sqlite://$WORK/data/mailhost.db"
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
dns_server = "127.0.0.1:3553"
[policy]
hourly_limit = 100000000
domain_hourly_limit = 100000000
read_retention = "$1"
quota = "1GB"
[limits]
connections_per_ip = 5000
max_connections = 5000
TOML
}
mh() { "$MH" --config "$WORK/mailhost.toml" "$@"; }
PID=
start_server() {
    : > "$WORK/stdout"
    RUST_LOG=warn "$MH" --config "$WORK/mailhost.toml" serve > "$WORK/stdout" 2>> "$WORK/server.log" &
    PID=$!
    for _ in $(seq 1 300); do grep -q "mailhost: ready" "$WORK/stdout" 2>/dev/null && break; sleep 0.1; done
}
stop_server() { kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null || true; PID=; }
python3 bench/compare/dns-stub.py 127.0.0.1:3553 > /dev/null 2>&1 &
DNS=$!
trap 'kill -TERM $PID $DNS 2>/dev/null; wait 2>/dev/null || true' EXIT
db_bytes() { du -cb "$WORK"/data/mailhost.db* | tail -1 | cut -f1; }

echo "== $(date -u +%F) $(nproc) cores, $(uname -m), store sqlite"
if phase 1; then
    rm -rf "$WORK" && mkdir -p "$WORK"
    config 14d
    mh domain add fan.test --contact admin@fan.test > /dev/null
    # Passwords are Argon2 hashes: made in parallel, one process each.
    seq 0 $((FANOUT - 1)) | xargs -P "$(nproc)" -I{} "$MH" --config "$WORK/mailhost.toml" user add "user{}@fan.test" --password bench-pw > /dev/null
    start_server
    before=$(db_bytes)
    python3 - "$FANOUT_SIZE" <<'PY'
import smtplib, ssl, sys, time
size = int(sys.argv[1])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
body = ("From: user0@fan.test\r\nTo: all@fan.test\r\nSubject: to everyone\r\n\r\n"
        + ("x" * 76 + "\r\n") * (size // 78)).encode()
s = smtplib.SMTP("127.0.0.1", 3587, timeout=300)
s.starttls(context=ctx); s.login("user0@fan.test", "bench-pw")
t = time.monotonic()
s.sendmail("user0@fan.test", ["all@fan.test"], body)
dt = time.monotonic() - t
s.quit()
print(f"all@ fan-out: {len(body)} bytes to every mailbox, 250 after {dt * 1000:.0f} ms")
PY
    sleep 1
    after=$(db_bytes)
    n=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT COUNT(*) FROM entries').fetchone()[0])" "$WORK/data/mailhost.db")
    echo "copies stored: $n; disk used by the message: $(( (after - before) / 1024 )) KiB (one copy per mailbox would be $(( FANOUT * FANOUT_SIZE / 1024 )) KiB)"
    stop_server
fi
if phase 2; then
    rm -rf "$WORK" && mkdir -p "$WORK"
    config 1000d
    mh domain add bench.test --contact admin@bench.test > /dev/null
    for i in $(seq 0 31); do mh user add "user$i@bench.test" --password bench-pw > /dev/null; done
    # Setup only (not measured): PURGE read entries, each with its own
    # small body, as one-recipient messages leave them, read 30 days ago.
    python3 - "$WORK/data/mailhost.db" "$PURGE" <<'PY'
import sqlite3, sys, time, os
db, n = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
ids = [r[0] for r in c.execute("SELECT id FROM addresses WHERE kind = 'mailbox' ORDER BY id")]
now = int(time.time() * 1000); read = now - 30 * 86_400_000
body = b"From: a@b.test\r\nSubject: old\r\n\r\n" + b"x" * 400 + b"\r\n"
def rows(lo, hi):
    for i in range(lo, hi):
        yield (f"{i:032x}", body)
for lo in range(0, n, 50_000):
    hi = min(n, lo + 50_000)
    c.executemany("INSERT INTO blobs (id, data) VALUES (?, ?)", rows(lo, hi))
    c.executemany("INSERT INTO entries (mailbox_id, blob_id, uid, prefix, size, received_at, retrieved_at) VALUES (?, ?, ?, x'', ?, ?, ?)",
                  ((ids[i % len(ids)], f"{i:032x}", f"{i:032x}.0", len(body), read, read + i) for i in range(lo, hi)))
    c.commit()
c.execute("UPDATE addresses SET used = (SELECT COALESCE(SUM(size), 0) FROM entries WHERE mailbox_id = addresses.id)")
c.commit()
print(f"setup: {n} read entries")
PY
    count() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT COUNT(*) FROM entries WHERE retrieved_at IS NOT NULL').fetchone()[0])" "$WORK/data/mailhost.db"; }
    load() { "$LOAD" smtp --addr 127.0.0.1:3525 --sessions 32 --messages "$LOAD_MESSAGES" --size 4096 --domain bench.test --mailboxes 32 | grep -i "msg/s"; }
    start_server
    echo "-- SMTP acceptance, no purge due (read_retention = 1000d):"
    load
    stop_server
    config 1d
    t0=$(date +%s.%N)
    start_server
    echo "-- SMTP acceptance while the purge runs (read_retention = 1d):"
    load
    left=$(count)
    echo "read entries left when the load ended: $left"
    while [ "$(count)" -gt 0 ]; do sleep 0.2; done
    t1=$(date +%s.%N)
    echo "purge: $PURGE entries in $(python3 -c "print(f'{$t1 - $t0:.1f}')") s from server start; server peak RSS $(awk '/VmHWM/ {print int($2/1024)}' "/proc/$PID/status") MiB"
    stop_server
fi
