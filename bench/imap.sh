#!/usr/bin/env bash
# bench/imap.sh: mailhost's IMAP server side by side with Debian's Dovecot
# 2.3 (dovecot-imapd), on loopback, driven by the same client
# (mailhost-bench imap-*) with the same generated 4 KB corpus; each
# scenario RUNS times against each server, alternately; medians and the
# ratios ours / Dovecot (for latencies Dovecot's time / ours, so above 1
# is always better for mailhost).
#
#   bench/imap.sh                                # as root; defaults below
#   MESSAGES=20000 IDLE=1000 bench/imap.sh        # a quick run
#   SCENARIOS="resync select" KEEP=1 bench/imap.sh   # reuse the last fill
#   MH=/path/to/mailhost MH_REV=abc1234 bench/imap.sh   # another mailhost build
#
# Scenarios (SCENARIOS, default all):
#   fill     setup, measured once: MESSAGES (100,000) messages of SIZE
#            (4096) bytes APPENDed to user0@bench.test's INBOX by 4 sessions.
#   append   "APPEND with durable commit, 4 sessions": APPEND_MESSAGES
#            (10,000) more to user1's INBOX per run; msg/s, p50/p99.
#   resync   Thunderbird-style: a new session's SELECT INBOX + UID FETCH
#            1:* (FLAGS) of the MESSAGES folder, RESYNC_REPEAT (5) per run.
#   select   STATUS then SELECT of that folder, nothing changed, in a new
#            session each time, SELECT_REPEAT (20) per run.
#   webmail  UID FETCH of the newest 500: ENVELOPE BODYSTRUCTURE and
#            BODY.PEEK[HEADER.FIELDS (From To Cc Subject Date Message-ID)],
#            WEBMAIL_REPEAT (10) per run.
#   sync     initial sync: BODY.PEEK[] of the first SYNC_MESSAGES (20,000),
#            4 sessions on disjoint quarters, chunks of 500 UIDs, two in
#            flight; timed from the first FETCH (logins excluded).
#   idle     IDLE (10,000) connections to as many accounts, each SELECT
#            INBOX + IDLE; server memory before and while they idle; then
#            IDLE_MESSAGES (200) messages, one at a time, to accounts spread
#            over them, and the time from the 250 to `* n EXISTS`. mailhost
#            gets them by SMTP (answering 250 once committed), Dovecot by
#            LMTP (dovecot-lmtpd, 250 once saved): each server's own
#            delivery path, no MTA queue in between. IDLE_RUNS (RUNS).
#
# mailhost: SQLite, plain IMAP on loopback with
# policy.imap_plaintext_loopback (LOGIN without TLS, as Dovecot with
# disable_plaintext_auth = no), login and connection limits raised. Its
# accounts beyond user0 are copied from user0's rows in SQL before it
# starts (10,000 `user add` would take minutes of Argon2), and every
# account gets a cheap Argon2id hash (m = 64 KiB, t = 1; `mailhost-bench
# imap-hash`) so that 10,000 logins measure IDLE, not password hashing;
# Dovecot's passwd-file holds {PLAIN} passwords.
#
# Dovecot: a private instance (its own base_dir, config, passwd-file; no
# /etc/dovecot), mdbox, mailbox_list_index = yes, fsync settings as
# shipped (mail_fsync = optimized), LMTP for delivery. For the IDLE
# scenario it is configured as Dovecot recommends for many IDLE clients:
# imap_hibernate_timeout = 5s moves an idling connection out of its imap
# process into the imap-hibernate process (the imap process exits); the
# process and client limits are raised to IDLE + margin, and
# fs.inotify.max_user_instances / max_user_watches are raised for the run
# (restored at the end) so that every imap process can watch its mailbox.
# Its memory is the sum over the master and all its children, RSS and PSS
# (shared pages counted once), with the process count. Watch the count:
# when imap-hibernate falls behind (its log then says "Couldn't hibernate
# imap client: net_connect_unix(...imap-hibernate) failed: Resource
# temporarily unavailable"), connections stay in their own imap process,
# and a live IDLE process reports new mail 500 ms after it sees it
# (NOTIFY_DELAY_MSECS in Dovecot's mailbox-watch.c); hibernated ones are
# woken at once. Each run's line shows which it was.
#
# Ports, 127.0.0.1 only: mailhost IMAP 4143 (MH_IMAP_PORT), SMTP 4525
# (MH_SMTP_PORT); Dovecot IMAP 4144 (DC_IMAP_PORT), LMTP 4024
# (DC_LMTP_PORT); the DNS stub 4553/udp (DNS_PORT, mailhost's SPF/DMARC
# lookups for the IDLE phase's SMTP mail, as in compare.sh).
# Needs root (apt-get dovecot-imapd dovecot-lmtpd when missing, ulimit -n,
# sysctl, Dovecot's privilege drop). Everything lives in WORK, wiped at
# the start unless KEEP=1 (then fill is skipped and the data reused).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

MESSAGES=${MESSAGES:-100000}
SIZE=${SIZE:-4096}
RUNS=${RUNS:-3}
APPEND_MESSAGES=${APPEND_MESSAGES:-10000}
RESYNC_REPEAT=${RESYNC_REPEAT:-5}
SELECT_REPEAT=${SELECT_REPEAT:-20}
WEBMAIL_REPEAT=${WEBMAIL_REPEAT:-10}
SYNC_MESSAGES=${SYNC_MESSAGES:-20000}
IDLE=${IDLE:-10000}
IDLE_MESSAGES=${IDLE_MESSAGES:-200}
IDLE_RUNS=${IDLE_RUNS:-$RUNS}
SCENARIOS=${SCENARIOS:-fill append resync select webmail sync idle}
SETTLE=${SETTLE:-2}
DEADLINE=${DEADLINE:-1800}
WORK=${WORK:-/var/tmp/mailhost-bench-imap}
MH_IMAP=127.0.0.1:${MH_IMAP_PORT:-4143}
MH_SMTP=127.0.0.1:${MH_SMTP_PORT:-4525}
DC_IMAP=127.0.0.1:${DC_IMAP_PORT:-4144}
DC_LMTP=127.0.0.1:${DC_LMTP_PORT:-4024}
DNS=127.0.0.1:${DNS_PORT:-4553}
PASSWORD=bench-pw
[ "$SYNC_MESSAGES" -le "$MESSAGES" ] || SYNC_MESSAGES=$MESSAGES
ACCOUNTS=$((IDLE > 2 ? IDLE : 2))
has() { [[ " $SCENARIOS " == *" $1 "* ]]; }
die() { printf 'imap.sh: %s\n' "$*" >&2; exit 1; }
# How busy the CPUs are (%, over one second): figures taken while something
# else runs on the machine are noise, so each scenario's header shows it.
busy() {
    local a b
    a=$(awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat)
    sleep 1
    b=$(awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat)
    echo "$a $b" | awk '{ printf "%d", 100 * ($3 - $1) / ($4 - $2 + 0.001) }'
}
log() { printf '\n== %s (CPUs %s%% busy before)\n' "$*" "$(busy)"; }
[ "$(id -u)" = 0 ] || die "run as root"

if [ ! -x /usr/lib/dovecot/imap ] || [ ! -x /usr/lib/dovecot/lmtp ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q dovecot-imapd dovecot-lmtpd > /dev/null
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
if [ -z "${MH:-}" ]; then
    cargo build --release -q -p mailhost -p mailhost-bench
    MH=$CARGO_TARGET_DIR/release/mailhost
else
    cargo build --release -q -p mailhost-bench
fi
LOAD=$CARGO_TARGET_DIR/release/mailhost-bench

# 10,000 connections: descriptors for the client and both servers, as
# many as the hard limit allows (without CAP_SYS_RESOURCE it cannot grow).
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((IDLE + 500)) ] ||
    echo "imap.sh: warning: ulimit -n is $(ulimit -n), not enough for $IDLE connections" >&2
INOTIFY_I=$(cat /proc/sys/fs/inotify/max_user_instances)
INOTIFY_W=$(cat /proc/sys/fs/inotify/max_user_watches)

MH_DIR=$WORK/mailhost
DC_DIR=$WORK/dovecot
RES=$WORK/results.tsv
MH_PID= DC_PID= DNS_PID=
cleanup() {
    local p
    for p in $MH_PID $DC_PID $DNS_PID; do kill -TERM "$p" 2>/dev/null || true; done
    for _ in $(seq 100); do
        kill -0 $MH_PID $DC_PID 2>/dev/null || break
        sleep 0.1
    done
    for p in $MH_PID $DC_PID; do kill -KILL "$p" 2>/dev/null || true; done
    echo "$INOTIFY_I" > /proc/sys/fs/inotify/max_user_instances
    echo "$INOTIFY_W" > /proc/sys/fs/inotify/max_user_watches
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
echo $((IDLE * 2 + 1024)) > /proc/sys/fs/inotify/max_user_instances
[ "$INOTIFY_W" -ge $((IDLE * 8 + 65536)) ] || echo $((IDLE * 8 + 65536)) > /proc/sys/fs/inotify/max_user_watches

if [ "${KEEP:-0}" = 1 ] && [ -d "$MH_DIR/data" ]; then
    SCENARIOS=${SCENARIOS/fill/}
else
    rm -rf "$WORK"
fi
mkdir -p "$MH_DIR" "$DC_DIR"/{run,state,log,home}
: > "$RES"

# --- mailhost ------------------------------------------------------------------

cat > "$MH_DIR/mailhost.toml" <<TOML
[server]
hostname = "bench.local"
data_dir = "$MH_DIR/data"
[store]
url = "sqlite://$MH_DIR/data/mailhost.db"
[listen]
smtp = "$MH_SMTP"
pop3 = ""
pop3s = ""
imap = "$MH_IMAP"
imaps = ""
submission = ""
submissions = ""
http = ""
[delivery]
dns_server = "$DNS"
[policy]
imap_plaintext_loopback = true
pop_logins_per_hour = 100000000
auth_failures_per_ip = 100000000
auth_failures_per_account = 100000000
hourly_limit = 100000000
domain_hourly_limit = 100000000
bulk_threshold = 100000000
quota = "64GB"
[limits]
connections_per_ip = $((IDLE + 1000))
max_connections = $((IDLE + 1000))
TOML
if [ ! -f "$MH_DIR/data/mailhost.db" ]; then
    "$MH" --config "$MH_DIR/mailhost.toml" domain add bench.test --contact admin@bench.test > /dev/null
    "$MH" --config "$MH_DIR/mailhost.toml" user add user0@bench.test --password "$PASSWORD" > /dev/null
    # Setup only: user1..user{ACCOUNTS-1} as copies of user0 (its row, its
    # default folders and subscriptions), every password the cheap hash.
    python3 - "$MH_DIR/data/mailhost.db" "$ACCOUNTS" "$("$LOAD" imap-hash --password "$PASSWORD")" <<'PY'
import sqlite3, sys
db, n, h = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = sqlite3.connect(db)
(u0,) = c.execute("SELECT id FROM addresses WHERE address = 'user0@bench.test'").fetchone()
c.executemany(
    "INSERT INTO addresses (address, domain_id, kind, password_hash, quota, package, suspended, created_at) "
    "SELECT ?, domain_id, kind, password_hash, quota, package, suspended, created_at FROM addresses WHERE id = ?",
    ((f"user{k}@bench.test", u0) for k in range(1, n)))
c.execute("INSERT INTO folders (account_id, name, special, created_at) SELECT a.id, f.name, f.special, f.created_at "
          "FROM addresses a JOIN folders f ON f.account_id = ? WHERE a.address LIKE 'user%@bench.test' AND a.id <> ?", (u0, u0))
c.execute("INSERT INTO subscriptions (account_id, name) SELECT a.id, s.name "
          "FROM addresses a JOIN subscriptions s ON s.account_id = ? WHERE a.address LIKE 'user%@bench.test' AND a.id <> ?", (u0, u0))
c.execute("UPDATE addresses SET password_hash = ? WHERE address LIKE 'user%@bench.test'", (h,))
c.commit()
PY
fi
python3 bench/compare/dns-stub.py "$DNS" > /dev/null 2>&1 &
DNS_PID=$!
RUST_LOG=warn "$MH" --config "$MH_DIR/mailhost.toml" serve > "$MH_DIR/stdout" 2>> "$MH_DIR/server.log" &
MH_PID=$!
for _ in $(seq 600); do grep -q "mailhost: ready" "$MH_DIR/stdout" 2>/dev/null && break; sleep 0.1; done
grep -q "mailhost: ready" "$MH_DIR/stdout" || { tail "$MH_DIR/server.log"; die "mailhost did not start"; }

# --- Dovecot -------------------------------------------------------------------

mail_uid=$(id -u mail) mail_gid=$(id -g mail)
chown "$mail_uid:$mail_gid" "$DC_DIR/home"
chmod 755 "$WORK" "$DC_DIR"
if [ ! -f "$DC_DIR/passwd" ]; then
    awk -v n="$ACCOUNTS" -v p="$PASSWORD" 'BEGIN { for (k = 0; k < n; k++) printf "user%d@bench.test:{PLAIN}%s\n", k, p }' > "$DC_DIR/passwd"
fi
chmod 644 "$DC_DIR/passwd"
LIM=$((IDLE + 1000))
cat > "$DC_DIR/dovecot.conf" <<EOF
# private Dovecot for bench/imap.sh; nothing here touches /etc/dovecot
instance_name = mailhost-imapbench
base_dir = $DC_DIR/run
state_dir = $DC_DIR/state
log_path = $DC_DIR/log/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
default_internal_user = dovecot
default_login_user = dovenull
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DC_DIR/passwd
}
userdb {
  driver = static
  args = uid=$mail_uid gid=$mail_gid home=$DC_DIR/home/%u
}
first_valid_uid = $mail_uid
first_valid_gid = $mail_gid
mail_location = mdbox:~/mdbox
mailbox_list_index = yes
namespace inbox {
  inbox = yes
  separator = /
}
# Many IDLE clients: hibernate them (see the header); limits above IDLE.
imap_hibernate_timeout = 5s
# imap-login keeps the shipped high-security mode (a process per
# connection until login); the client logs in 64 at a time.
default_process_limit = 1000
default_client_limit = $LIM
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${DC_IMAP##*:}
  }
}
service imap-urlauth-login {
  process_limit = 10
}
service imap {
  process_limit = $LIM
  extra_groups = \$default_internal_group
  unix_listener imap-master {
    user = \$default_internal_user
  }
}
service imap-hibernate {
  client_limit = $LIM
  unix_listener imap-hibernate {
    mode = 0660
    group = \$default_internal_group
  }
}
service lmtp {
  process_limit = 100
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${DC_LMTP##*:}
  }
}
EOF
rm -rf "${DC_DIR:?}/run" && mkdir -p "$DC_DIR/run"   # stale sockets, with KEEP=1
dc_log_from=$(($(cat "$DC_DIR/log/dovecot.log" 2>/dev/null | wc -l) + 1))
/usr/sbin/dovecot -c "$DC_DIR/dovecot.conf"
for _ in $(seq 100); do [ -s "$DC_DIR/run/master.pid" ] && break; sleep 0.1; done
DC_PID=$(cat "$DC_DIR/run/master.pid")
sleep 1
tail -n +"$dc_log_from" "$DC_DIR/log/dovecot.log" | grep -i "warning\|error\|fatal" && echo "(Dovecot's startup warnings above)"

echo "== $(date -u '+%F %H:%M') UTC; $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); mailhost ${MH_REV:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)} ($MH); dovecot $(/usr/sbin/dovecot --version)"
echo "   MESSAGES=$MESSAGES SIZE=$SIZE RUNS=$RUNS APPEND_MESSAGES=$APPEND_MESSAGES SYNC_MESSAGES=$SYNC_MESSAGES IDLE=$IDLE IDLE_MESSAGES=$IDLE_MESSAGES"

# --- running the client ----------------------------------------------------------

# run SCENARIO SERVER RUN ARGS...: one client run; its output line goes to
# the screen and into $OUT.
OUT=
run() {
    local scen=$1 srv=$2 n=$3 addr
    shift 3
    [ "$srv" = mailhost ] && addr=$MH_IMAP || addr=$DC_IMAP
    sleep "$SETTLE"
    OUT=$(timeout $((DEADLINE + 60)) "$LOAD" "$scen" --addr "$addr" --deadline "$DEADLINE" "$@" 2>&1) ||
        { echo "$OUT"; die "$scen against $srv failed"; }
    printf '   %-8s run %s: %s\n' "$srv" "$n" "$OUT"
}
# rec SCENARIO METRIC SERVER RUN PERL-REGEX: the number the regex's \K
# points at in $OUT, into the results.
rec() {
    local v
    v=$(grep -oP "$5" <<< "$OUT" | head -1)
    [ -n "$v" ] || die "no $2 in: $OUT"
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$v" >> "$RES"
}
SERVERS="mailhost dovecot"

if has fill; then
    log "fill: $MESSAGES x $SIZE B into user0's INBOX, 4 sessions (setup)"
    for s in $SERVERS; do
        run imap-fill "$s" 1 --messages "$MESSAGES" --size "$SIZE" --sessions 4
        rec fill rate "$s" 1 '= \K[0-9.]+(?= msg/s)'
    done
fi
if has append; then
    log "APPEND with durable commit: $APPEND_MESSAGES x $SIZE B into user1's INBOX, 4 sessions"
    for i in $(seq "$RUNS"); do for s in $SERVERS; do
        run imap-fill "$s" "$i" --user user1@bench.test --messages "$APPEND_MESSAGES" --size "$SIZE" --sessions 4
        rec append rate "$s" "$i" '= \K[0-9.]+(?= msg/s)'
        rec append p50 "$s" "$i" 'p50 \K[0-9.]+'
        rec append p99 "$s" "$i" 'p99 \K[0-9.]+'
    done; done
fi
if has resync; then
    log "resync: SELECT + UID FETCH 1:* (FLAGS), $RESYNC_REPEAT new sessions per run"
    for i in $(seq "$RUNS"); do for s in $SERVERS; do
        run imap-resync "$s" "$i" --repeat "$RESYNC_REPEAT"
        rec resync p50 "$s" "$i" 'p50 \K[0-9.]+'
        rec resync p99 "$s" "$i" 'p99 \K[0-9.]+'
    done; done
fi
if has select; then
    log "SELECT/STATUS of the big folder, nothing changed, $SELECT_REPEAT new sessions per run"
    for i in $(seq "$RUNS"); do for s in $SERVERS; do
        run imap-select "$s" "$i" --repeat "$SELECT_REPEAT"
        rec select p50 "$s" "$i" 'SELECT p50 \K[0-9.]+'
        rec select p99 "$s" "$i" 'SELECT p50 [0-9.]+ ms, p99 \K[0-9.]+'
        rec status p50 "$s" "$i" 'STATUS p50 \K[0-9.]+'
        rec status p99 "$s" "$i" 'STATUS p50 [0-9.]+ ms, p99 \K[0-9.]+'
    done; done
fi
if has webmail; then
    log "webmail: ENVELOPE BODYSTRUCTURE header fields of the newest 500, $WEBMAIL_REPEAT per run"
    for i in $(seq "$RUNS"); do for s in $SERVERS; do
        run imap-webmail "$s" "$i" --repeat "$WEBMAIL_REPEAT"
        rec webmail p50 "$s" "$i" 'p50 \K[0-9.]+'
        rec webmail p99 "$s" "$i" 'p99 \K[0-9.]+'
    done; done
fi
if has sync; then
    log "initial sync: BODY.PEEK[] of $SYNC_MESSAGES messages, 4 sessions, chunks of 500"
    for i in $(seq "$RUNS"); do for s in $SERVERS; do
        run imap-sync "$s" "$i" --messages "$SYNC_MESSAGES" --sessions 4 --chunk 500
        rec sync rate "$s" "$i" '= \K[0-9.]+(?= msg/s)'
    done; done
fi

# Memory of a server: mailhost's process; Dovecot's master and every
# process below it. Prints "RSS_KB PSS_KB PROCESSES".
mem() {
    local pids p rss=0 pss=0 n=0
    if [ "$1" = mailhost ]; then
        pids=$MH_PID
    else
        pids="$DC_PID $(ps -e -o pid=,ppid= | awk -v m="$DC_PID" '$2 == m { print $1 }')"
    fi
    for p in $pids; do
        [ -r "/proc/$p/smaps_rollup" ] || continue
        read -r r s < <(awk '/^Rss:/ { r = $2 } /^Pss:/ { s = $2 } END { print r + 0, s + 0 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo "0 0")
        rss=$((rss + r)) pss=$((pss + s)) n=$((n + 1))
    done
    echo "$rss $pss $n"
}
if has idle; then
    log "IDLE: $IDLE connections, $IDLE_MESSAGES deliveries, $IDLE_RUNS runs each"
    # Each server's memory before the first run is the baseline of every
    # run: mailhost's allocator keeps what closed connections freed (its
    # RSS does not go back down between runs), Dovecot's processes exit.
    read -r mh_rss0 mh_pss0 mh_n0 < <(mem mailhost)
    read -r dc_rss0 dc_pss0 dc_n0 < <(mem dovecot)
    for i in $(seq "$IDLE_RUNS"); do for s in $SERVERS; do
        if [ "$s" = mailhost ]; then delivery=(--smtp "$MH_SMTP"); else delivery=(--smtp "$DC_LMTP" --lmtp); fi
        sleep "$SETTLE"
        if [ "$s" = mailhost ]; then rss0=$mh_rss0 pss0=$mh_pss0 n0=$mh_n0; else rss0=$dc_rss0 pss0=$dc_pss0 n0=$dc_n0; fi
        f=$WORK/idle-$s-$i.out
        : > "$f"
        "$LOAD" imap-idle --addr "$([ "$s" = mailhost ] && echo "$MH_IMAP" || echo "$DC_IMAP")" \
            "${delivery[@]}" --connections "$IDLE" --messages "$IDLE_MESSAGES" --hold 15 \
            --deadline "$DEADLINE" > "$f" 2>&1 &
        cpid=$!
        for _ in $(seq $((DEADLINE * 10))); do
            grep -q idling "$f" && break
            kill -0 "$cpid" 2>/dev/null || break
            sleep 0.1
        done
        grep -q idling "$f" || { cat "$f"; die "imap-idle against $s did not get its connections up"; }
        # Dovecot hibernates after 5 s of IDLE; measure after it has.
        sleep 9
        read -r rss1 pss1 n1 < <(mem "$s")
        wait "$cpid" || { cat "$f"; die "imap-idle against $s failed"; }
        OUT=$(cat "$f")
        printf '   %-8s run %s: %s\n' "$s" "$i" "$(tr '\n' ' ' <<< "$OUT")"
        per=$(awk -v a="$rss0" -v b="$rss1" -v c="$IDLE" 'BEGIN { printf "%.1f", (b - a) / c }')
        perp=$(awk -v a="$pss0" -v b="$pss1" -v c="$IDLE" 'BEGIN { printf "%.1f", (b - a) / c }')
        echo "   $s memory: RSS $((rss0 / 1024)) -> $((rss1 / 1024)) MiB, PSS $((pss0 / 1024)) -> $((pss1 / 1024)) MiB, $n0 -> $n1 processes: $per KB RSS, $perp KB PSS per IDLE connection"
        printf 'idle\trss\t%s\t%s\t%s\nidle\tpss\t%s\t%s\t%s\n' "$s" "$i" "$per" "$s" "$i" "$perp" >> "$RES"
        rec idle p50 "$s" "$i" 'p50 \K[0-9.]+'
        rec idle p99 "$s" "$i" 'p99 \K[0-9.]+'
        rec idle missed "$s" "$i" '\K[0-9]+(?= not seen)'
        rec idle open "$s" "$i" 'opened in \K[0-9.]+'
        # Let the closed connections go before the next run; Dovecot's
        # imap-hibernate goes on closing its 10,000 after its processes
        # have exited (a run started too soon sees hibernation refused).
        for _ in $(seq 300); do
            [ "$(mem "$s" | cut -d' ' -f3)" -le $((n0 + 2)) ] && break
            sleep 0.1
        done
        [ "$s" = dovecot ] && sleep 10
    done; done
fi

# --- summary -------------------------------------------------------------------

log "medians of $RUNS runs (ratio > 1: mailhost better; rates ours/Dovecot, times and memory Dovecot/ours)"
python3 - "$RES" <<'PY'
import collections, statistics, sys
v = collections.defaultdict(list)
for line in open(sys.argv[1]):
    scen, metric, srv, run, val = line.rstrip("\n").split("\t")
    v[(scen, metric, srv)].append(float(val))
higher = {"rate"}  # everything else is a time, a count or memory: lower is better
rows = []
for (scen, metric) in dict.fromkeys((s, m) for s, m, _ in v):
    a, b = v.get((scen, metric, "mailhost")), v.get((scen, metric, "dovecot"))
    if not a or not b:
        continue
    ma, mb = statistics.median(a), statistics.median(b)
    if metric in ("missed", "open"):  # context, not a figure to compare
        r = None
    elif metric in higher:
        r = ma / mb if mb else float("inf")
    else:
        r = mb / ma if ma else float("inf")
    unit = {"rate": "msg/s", "rss": "KB/conn", "pss": "KB/conn", "missed": "", "open": "s"}.get(metric, "ms")
    ratio = "     -" if r is None else f"{r:6.2f}"
    print(f"{scen:8} {metric:6} {unit:8} mailhost {ma:10.3f}  dovecot {mb:10.3f}  ratio {ratio}   runs {a} / {b}")
PY
