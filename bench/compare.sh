#!/usr/bin/env bash
# bench/compare.sh: the same load, from the same client (mailhost-bench),
# against mailhost and against Debian's Postfix + Dovecot, all on loopback,
# and the ratios between them. IMAP against Dovecot's imapd (resync,
# SELECT/STATUS, webmail, initial sync, APPEND, 10,000 IDLE) is
# bench/imap.sh, with the same client.
#
#   bench/compare.sh                                   # as root; defaults below
#   MESSAGES=2000 POP_MESSAGES=1000 SUB_MESSAGES=2000 bench/compare.sh  # quick check
#   MH_SMTP_PORT=3525 MH_POP_PORT=3110 bench/compare.sh  # 2525/2110 taken
#
# Phases, each run against mailhost first and then Postfix/Dovecot:
#   a. SMTP acceptance: SESSIONS sessions send MESSAGES messages of SIZE
#      bytes to user0..user31@bench.test. mailhost answers 250 only once the
#      message is fsynced into the mailbox store, so for it "accepted" is
#      also "delivered". Postfix answers 250 once the message is in its
#      queue, so we also time until virtual(8) has written every message
#      into the maildirs ("accepted+delivered"). Postfix's shipped
#      in_flow_delay (1s) holds back a client whenever the queue manager
#      falls behind, so the two rates end up close and its p99 latency is
#      about one second: that is Postfix as shipped, and we keep it.
#   b. POP3: POP_MESSAGES messages go to user0@big.test on both; then
#      mailhost-bench pop3 retrieves them all with pipelined RETR, twice
#      (the first session on a mailbox pays for building indexes and
#      reading sizes, the second one does not).
#   c. Authenticated submission relaying to a remote domain: SESSIONS
#      sessions do EHLO, STARTTLS, EHLO, AUTH PLAIN as user0@bench.test and
#      send SUB_MESSAGES messages of SIZE bytes to userK@remote.test. Both
#      servers relay remote.test to a mailhost-bench sink on loopback (one
#      sink per server, started for the run). Two figures each: submission
#      acceptance (the client's own rate) and end to end, from the start of
#      the client run until the sink has every message.
#        mailhost: its submission listener, [delivery] routes remote.test to
#          the sink, per_domain = 16 (as bench/run.sh). It DKIM-signs what
#          it relays (a key per domain is made on `domain add`). Its hourly
#          sending limits (R-OUT-6, R-OUT-7: 300 per account by default)
#          are raised above SUB_MESSAGES: Postfix as shipped has none.
#        Postfix: a submission service in master.cf (Debian's commented
#          example: smtpd_tls_security_level=encrypt, smtpd_sasl_auth_enable
#          =yes), SASL through this script's Dovecot (smtpd_sasl_type=dovecot;
#          the auth socket is under /var/spool/postfix/private/ because
#          smtpd runs chrooted there), permit_sasl_authenticated,reject, and
#          transport_maps sending remote.test to smtp:[127.0.0.1]:SINK. Its
#          smtp client and queue manager keep their shipped defaults
#          (destination concurrency 20, slow start, connection cache).
#        mailhost unsigned: mailhost restarted on the same data with
#          dkim.sign = false, run a second time, to compare with the
#          unsigned Postfix like with like.
#        Postfix+OpenDKIM: the same Postfix, run a second time with
#          Debian's OpenDKIM as a milter (smtpd_milters, non_smtpd_milters,
#          milter_default_action = tempfail), so that it does the work
#          mailhost does: a DKIM-Signature with a 2048-bit RSA key for
#          bench.test (selector "bench", c=relaxed/relaxed, From oversigned,
#          as mailhost and Debian's opendkim.conf do), made for each run.
#          OpenDKIM runs in the foreground as its own user, signing only
#          (Mode s). The milter socket is a UNIX socket in Postfix's spool
#          (OD_SOCKET=unix, the default; Debian's opendkim.conf also uses a
#          local socket), or 127.0.0.1:OD_PORT with OD_SOCKET=inet. Over
#          TCP on loopback each message sits idle for about 2 x 40 ms
#          (measured: p50 96 ms per message over TCP, 4 ms over the UNIX
#          socket), the pattern of Nagle + delayed ACK: OpenDKIM answers in
#          several small writes and does not set TCP_NODELAY. With 32
#          sessions that alone caps Postfix near 330 msg/s: waiting, not
#          signing. The script prints the CPU time OpenDKIM used for the
#          run (ms per message). Before the run one message goes through
#          OpenDKIM to a mailbox of check.test, and the script checks that
#          it carries a DKIM-Signature that opendkim -t verifies with the
#          public key. The unsigned Postfix figures are kept alongside.
#      Both present the same self-signed TLS pair, made for each run.
#   d. A summary table with the ratios mailhost / Postfix+Dovecot; for phase
#      c: both signing (mailhost / Postfix+OpenDKIM), neither signing
#      (mailhost unsigned / Postfix), and only mailhost signing.
#
# Needs root (apt-get: postfix, dovecot-pop3d, opendkim; a system user;
# Postfix's own configuration) and python3 (a loopback DNS stub, below). It
# takes over /etc/postfix/main.cf and the Postfix queue: run it on a
# benchmark machine, not on a mail server.
# Everything else lives in $WORK below and is wiped at the start of each run
# ($WORK/run belongs to bench/run.sh and is left alone). Ports, all on
# 127.0.0.1 only (variable to move each in brackets):
#   mailhost SMTP 2525 (MH_SMTP_PORT), POP3 2110 (MH_POP_PORT), submission
#   2588 (MH_SUB_PORT); Postfix SMTP 2526 (PF_SMTP_PORT), submission 2587
#   (PF_SUB_PORT); Dovecot POP3 2111 (DC_POP_PORT); the sinks 2600
#   (MH_SINK_PORT, mailhost's) and 2601 (PF_SINK_PORT, Postfix's, both runs);
#   OpenDKIM's milter 2891 (OD_PORT, only with OD_SOCKET=inet); the DNS
#   stub 2553/udp (DNS_PORT).
#
# mailhost checks SPF, DKIM and DMARC on mail that arrives on its MX port
# (phase a). Left alone it would send those queries to the system's
# resolvers, off this machine; instead [delivery] dns_server points at
# bench/compare/dns-stub.py on loopback, which answers NXDOMAIN (with a
# negative-caching SOA) for every name, as the real DNS does for the .test
# and .local names used here. Nothing in any phase leaves loopback.
#
# Numbers from a machine that is doing something else at the same time (a
# CI build, say) are noise: the script measures how busy the CPUs are just
# before the first phase and before phase c, warns above 10%, and prints it
# with the figures.

set -euo pipefail

SESSIONS=${SESSIONS:-32}
MESSAGES=${MESSAGES:-20000}
SIZE=${SIZE:-4096}
POP_MESSAGES=${POP_MESSAGES:-10000}
SUB_MESSAGES=${SUB_MESSAGES:-20000}
# Upper bound for each client run, in seconds (the client enforces it too).
DEADLINE=${DEADLINE:-600}
# Upper bound for Postfix to empty its queue after the client is done.
DELIVERY_TIMEOUT=${DELIVERY_TIMEOUT:-900}
# Pause before each measurement so that the previous one's background work
# (queue runs, WAL checkpoints, page-cache writeback) does not bleed into it.
SETTLE=${SETTLE:-3}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TEMPLATES=$ROOT/bench/compare
MAILHOST=$ROOT/target/release/mailhost
BENCH=$ROOT/target/release/mailhost-bench

WORK=/var/tmp/mailhost-bench
VMAIL=$WORK/vmail          # Postfix writes, Dovecot reads: maildirs
MH_DIR=$WORK/mh            # mailhost config, data dir, log
DC_DIR=$WORK/dovecot       # Dovecot config, passwd, base_dir, log
PF_LOG=$WORK/postfix.log
PF_MAP=/etc/postfix/mailhost-bench-vmailbox
PF_TRANSPORT=/etc/postfix/mailhost-bench-transport
# Dovecot's auth socket for Postfix's SASL: smtpd runs chrooted in
# /var/spool/postfix and finds it as private/mailhost-bench-auth there.
PF_SASL_PATH=private/mailhost-bench-auth
DC_AUTH_SOCKET=/var/spool/postfix/$PF_SASL_PATH
TLS_DIR=$WORK/tls          # the TLS pair both servers present
OD_DIR=$WORK/opendkim      # OpenDKIM config, signing key, output
OD_SELECTOR=bench          # bench._domainkey.bench.test
# OpenDKIM's milter socket: unix (in Postfix's spool, where chrooted smtpd
# finds it by the name relative to the spool) or inet (127.0.0.1:OD_PORT).
OD_SOCKET=${OD_SOCKET:-unix}
OD_SOCK_NAME=mailhost-bench-opendkim/opendkim.sock
OD_SOCK_DIR=/var/spool/postfix/${OD_SOCK_NAME%/*}
SUB_DIR=$WORK/submission   # sink and DNS stub output
VUSER=mhbench              # owns the maildirs (Postfix static uid/gid)
PASSWORD=bench-pw
MAILBOXES=32               # user0..user31@bench.test, as mailhost-bench sends
SUBMITTER=user0@bench.test # logs in and sends in phase c (envelope and From:)

# Ports can be moved (e.g. while bench/run.sh holds 2525); the address is
# always loopback.
MH_SMTP=127.0.0.1:${MH_SMTP_PORT:-2525}
MH_POP=127.0.0.1:${MH_POP_PORT:-2110}
PF_SMTP=127.0.0.1:${PF_SMTP_PORT:-2526}
DC_POP=127.0.0.1:${DC_POP_PORT:-2111}
MH_SUB=127.0.0.1:${MH_SUB_PORT:-2588}
PF_SUB=127.0.0.1:${PF_SUB_PORT:-2587}
MH_SINK=127.0.0.1:${MH_SINK_PORT:-2600}
PF_SINK=127.0.0.1:${PF_SINK_PORT:-2601}
DNS=127.0.0.1:${DNS_PORT:-2553}
OD=127.0.0.1:${OD_PORT:-2891}

PHASE=startup
MH_PID=
DOVECOT_STARTED=
POSTFIX_STARTED=
SINK_PID=
DNS_PID=
OD_PID=
PF_MILTER=

log() { printf '\n== %s\n' "$*"; }
die() { printf 'compare.sh: %s\n' "$*" >&2; exit 1; }

# --- clean-up ----------------------------------------------------------------

stop_mailhost() {
    [ -n "$MH_PID" ] || return 0
    if kill -0 "$MH_PID" 2>/dev/null; then
        kill -TERM "$MH_PID" 2>/dev/null || true
        # shutdown_grace is 10 s; give it a little more, then insist.
        for _ in $(seq 150); do kill -0 "$MH_PID" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$MH_PID" 2>/dev/null && kill -KILL "$MH_PID" 2>/dev/null || true
    fi
    wait "$MH_PID" 2>/dev/null || true
    MH_PID=
}

stop_dovecot() {
    [ -n "$DOVECOT_STARTED" ] || return 0
    local master
    master=$(cat "$DC_DIR/run/master.pid" 2>/dev/null || true)
    doveadm -c "$DC_DIR/dovecot.conf" stop 2>/dev/null || true
    if [ -n "$master" ]; then
        for _ in $(seq 50); do kill -0 "$master" 2>/dev/null || break; sleep 0.1; done
    fi
    # Its listener for Postfix lives in Postfix's spool, not in $DC_DIR.
    rm -f "$DC_AUTH_SOCKET"
    DOVECOT_STARTED=
}

# A background helper we started (a sink, the DNS stub), by its pid.
stop_pid() {
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
stop_sink() { stop_pid "$SINK_PID"; SINK_PID=; rm -f "$WORK/sink.pid"; }
stop_dns() { stop_pid "$DNS_PID"; DNS_PID=; rm -f "$WORK/dns-stub.pid"; }
stop_opendkim() { stop_pid "$OD_PID"; OD_PID=; rm -f "$WORK/opendkim.pid"; rm -rf "$OD_SOCK_DIR"; }

stop_postfix() {
    [ -n "$POSTFIX_STARTED" ] || return 0
    postfix stop >/dev/null 2>&1 || true
    POSTFIX_STARTED=
    # No milter left in main.cf that points at an OpenDKIM we stop.
    if [ -n "$PF_MILTER" ]; then
        postconf -X smtpd_milters non_smtpd_milters milter_default_action 2>/dev/null || true
        PF_MILTER=
    fi
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$rc" -ne 0 ]; then
        printf '\ncompare.sh: FAILED in phase "%s" (exit %s)\n' "$PHASE" "$rc" >&2
        printf '  logs: %s/serve.log %s %s/dovecot.log %s/ %s/opendkim.log\n' "$MH_DIR" "$PF_LOG" "$DC_DIR" "$SUB_DIR" "$OD_DIR" >&2
    fi
    stop_sink
    stop_mailhost
    stop_dovecot
    stop_postfix
    stop_opendkim
    stop_dns
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- helpers -----------------------------------------------------------------

now() { date +%s.%N; }

# Runs the load client (bounded by its own deadline and, as a backstop, by
# timeout(1)), echoes its output and leaves its figures (messages, seconds,
# msg/s) in RUN_N, RUN_SECS, RUN_RATE. A failed client run fails the phase.
run_client() {
    local out
    RUN_N= RUN_SECS= RUN_RATE=
    out=$(timeout --signal=TERM $((DEADLINE + 30)) "$BENCH" "$@" --deadline "$DEADLINE" 2>&1) \
        || die "$PHASE: mailhost-bench $1 failed: $out"
    echo "   $out"
    read -r RUN_N RUN_SECS RUN_RATE < <(sed -n \
        's/.*: \([0-9][0-9]*\) messages in \([0-9.]*\)s = \([0-9][0-9]*\) msg\/s.*/\1 \2 \3/p' <<<"$out") || true
    [ -n "${RUN_RATE:-}" ] || die "$PHASE: cannot parse the client's output: $out"
}

# Messages Postfix's virtual(8) has finished writing for DOMAIN: it writes
# into tmp/ and renames into new/, so new/ holds only complete messages.
# (Dovecot moves them on to cur/ once a POP3 session opens the mailbox.)
delivered() {
    { find "$VMAIL/$1" -mindepth 3 -maxdepth 3 -type f \( -path '*/new/*' -o -path '*/cur/*' \) 2>/dev/null || true; } | wc -l
}

# Waits until DOMAIN holds WANT messages and the Postfix queue is empty.
wait_delivered() {
    local domain=$1 want=$2 start n
    start=$(now)
    while :; do
        n=$(delivered "$domain")
        [ "$n" -ge "$want" ] && break
        if awk -v a="$start" -v b="$(now)" -v t="$DELIVERY_TIMEOUT" 'BEGIN { exit !(b - a > t) }'; then
            postqueue -p | tail -5 >&2 || true
            tail -5 "$PF_LOG" >&2 || true
            die "$PHASE: Postfix delivered $n of $want messages to $domain within ${DELIVERY_TIMEOUT}s"
        fi
        sleep 0.2
    done
    wait_queue_empty "delivering all $want messages"
}

# Every message is where it should be; anything left in the Postfix queue
# would be a bounce or a deferral, which means the run is not what we think
# it is.
wait_queue_empty() {
    for _ in $(seq 50); do
        [ -z "$(postqueue -j)" ] && return 0
        sleep 0.2
    done
    postqueue -p | tail -5 >&2
    die "$PHASE: Postfix queue is not empty after $1"
}

# Starts a sink on ADDR that expects SUB_MESSAGES messages and then exits;
# its output goes to LOG. Its own deadline covers the client run and the
# delivery after it; timeout(1) is the backstop.
start_sink() {
    local addr=$1 out=$2
    timeout --signal=TERM $((DEADLINE + DELIVERY_TIMEOUT + 30)) "$BENCH" sink --listen "$addr" \
        --expect "$SUB_MESSAGES" --deadline $((DEADLINE + DELIVERY_TIMEOUT)) > "$out" 2>&1 &
    SINK_PID=$!
    echo "$SINK_PID" > "$WORK/sink.pid"
    wait_port "$addr"
}

# Percentage of CPU time spent busy over one second, all CPUs together: the
# load average lags by minutes (and includes our own previous run), this
# says whether something else is using the machine right now.
cpu_busy() {
    local a b
    a=$(awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat)
    sleep 1
    b=$(awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
        printf "%.0f", (y[2] > x[2]) ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
meets() { awk -v r="$1" -v t="$2" 'BEGIN { exit !(r != "n/a" && r + 0 >= t) }' && echo "ok" || echo "BELOW TARGET"; }

port_free() { ! ss -Hltn "sport = :${1##*:}" | grep -q .; }
udp_port_free() { ! ss -Hlun "sport = :${1##*:}" | grep -q .; }

# Kills a helper left over from a run that was killed before its trap ran:
# the pid in PIDFILE, only if its command line still contains WHAT.
kill_stale() {
    local pidfile=$1 what=$2 old
    [ -f "$pidfile" ] || return 0
    old=$(cat "$pidfile")
    if [ -n "$old" ] && grep -qa -- "$what" "/proc/$old/cmdline" 2>/dev/null; then
        kill -TERM "$old" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$pidfile"
}

wait_port() {
    for _ in $(seq 100); do
        ss -Hltn "sport = :${1##*:}" | grep -q . && return 0
        sleep 0.1
    done
    die "$PHASE: nothing is listening on $1"
}

# --- 0. checks and packages --------------------------------------------------

[ "$(id -u)" -eq 0 ] || die "run as root: it installs packages and configures Postfix"
for v in SESSIONS MESSAGES SIZE POP_MESSAGES SUB_MESSAGES DEADLINE DELIVERY_TIMEOUT SETTLE \
         MH_SMTP_PORT MH_POP_PORT PF_SMTP_PORT DC_POP_PORT MH_SUB_PORT PF_SUB_PORT \
         MH_SINK_PORT PF_SINK_PORT DNS_PORT OD_PORT; do
    [ -n "${!v:-}" ] || continue
    [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] || die "$v must be a positive integer (got '${!v}')"
done
case $OD_SOCKET in
    unix) OD_MILTER=unix:$OD_SOCK_NAME; OD_WHERE=$OD_SOCK_DIR/opendkim.sock ;;
    inet) OD_MILTER=inet:$OD; OD_WHERE=$OD ;;
    *) die "OD_SOCKET must be unix or inet (got '$OD_SOCKET')" ;;
esac
TCP_PORTS="$MH_SMTP $MH_POP $MH_SUB $PF_SMTP $PF_SUB $DC_POP $MH_SINK $PF_SINK"
[ "$OD_SOCKET" = unix ] || TCP_PORTS="$TCP_PORTS $OD"
[ "$(tr ' ' '\n' <<<"$TCP_PORTS" | sort | uniq -d)" = "" ] || die "two services on one port: $TCP_PORTS"
# Postfix runs at most default_process_limit (100) smtpd processes, one per
# session; we keep that default.
[ "$SESSIONS" -le 100 ] || die "SESSIONS must be at most 100 (Postfix's default_process_limit)"

PHASE=install
PACKAGES=(postfix dovecot-pop3d opendkim)
if ! dpkg-query -W -f='${Status}\n' "${PACKAGES[@]}" 2>/dev/null | grep -c '^install ok installed' | grep -qx "${#PACKAGES[@]}"; then
    log "installing ${PACKAGES[*]}"
    # Without a preseed the postfix package asks how to configure itself;
    # "No configuration" leaves main.cf to us.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${PACKAGES[@]}"; }
    # Package lists that are missing or stale make the install fail: then
    # update them once and try again.
    apt_install || { apt-get update -q && apt_install; }
fi
command -v doveadm >/dev/null && command -v postfix >/dev/null || die "postfix/dovecot binaries missing after install"
# The package makes the opendkim user and group OpenDKIM runs as.
command -v opendkim >/dev/null && getent passwd opendkim >/dev/null || die "opendkim binary or user missing after install"
command -v openssl >/dev/null || die "openssl is needed for the TLS pair (apt-get install openssl)"
# The interpreter itself, not a wrapper (pyenv's shim forks): its pid is the
# one we stop.
PYTHON=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || die "python3 is needed for the DNS stub"

# The maildirs belong to one dedicated system user, as in the usual
# virtual-mailbox setup (Postfix virtual_uid_maps, Dovecot static userdb).
getent passwd "$VUSER" >/dev/null \
    || useradd --system --user-group --no-create-home --home-dir "$VMAIL" --shell /usr/sbin/nologin "$VUSER"
VUID=$(id -u "$VUSER")
VGID=$(id -g "$VUSER")

PHASE=build
log "building release binaries"
(cd "$ROOT" && cargo build --release -q -p mailhost -p mailhost-bench)

# --- 1. a clean slate --------------------------------------------------------

PHASE=reset
# Left over from a run that was killed before its trap could run: stop only
# what this script starts (our Dovecot instance by its config, mailhost by the
# pid it recorded).
[ -f "$DC_DIR/dovecot.conf" ] && doveadm -c "$DC_DIR/dovecot.conf" stop 2>/dev/null || true
if [ -f "$MH_DIR/mailhost.pid" ]; then
    old=$(cat "$MH_DIR/mailhost.pid")
    if [ -n "$old" ] && grep -qa -- "$MAILHOST" "/proc/$old/cmdline" 2>/dev/null; then
        kill -TERM "$old" 2>/dev/null || true
        for _ in $(seq 150); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
    fi
fi
kill_stale "$WORK/sink.pid" "$BENCH"
kill_stale "$WORK/dns-stub.pid" dns-stub.py
kill_stale "$WORK/opendkim.pid" "$OD_DIR/opendkim.conf"
postfix status >/dev/null 2>&1 && postfix stop >/dev/null 2>&1 || true
rm -f "$DC_AUTH_SOCKET"
rm -rf "$OD_SOCK_DIR"
for p in $TCP_PORTS; do
    port_free "$p" || die "port $p is already in use by another program"
done
udp_port_free "$DNS" || die "port $DNS/udp is already in use by another program"

# Only our own pieces: bench/run.sh keeps its state in $WORK/run.
rm -rf "$VMAIL" "$MH_DIR" "$DC_DIR" "$PF_LOG" "$TLS_DIR" "$SUB_DIR" "$OD_DIR"
mkdir -p "$WORK" "$VMAIL" "$MH_DIR" "$DC_DIR" "$TLS_DIR" "$SUB_DIR" "$OD_DIR"
chown "$VUSER:$VUSER" "$VMAIL"
chmod 700 "$VMAIL"

# One self-signed pair (ECDSA P-256, what mailhost makes for itself when it
# has none) that both servers present on their submission ports, so the
# handshakes cost the same. Postfix reads the key as root before smtpd
# enters its chroot, mailhost runs as root here: root-only is enough.
(umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$TLS_DIR/key.pem" -out "$TLS_DIR/cert.pem" -days 7 -subj "/CN=bench.local" \
    -addext "subjectAltName=DNS:bench.local,DNS:localhost" 2>/dev/null) \
    || die "openssl could not make the TLS pair"
chmod 644 "$TLS_DIR/cert.pem"

# The DNS stub mailhost asks instead of the system's resolvers (see the top).
"$PYTHON" "$TEMPLATES/dns-stub.py" "$DNS" > "$SUB_DIR/dns-stub.log" 2>&1 &
DNS_PID=$!
echo "$DNS_PID" > "$WORK/dns-stub.pid"
for _ in $(seq 50); do grep -q 'listening' "$SUB_DIR/dns-stub.log" && break; sleep 0.1; done
grep -q 'listening' "$SUB_DIR/dns-stub.log" || die "the DNS stub did not start: $(cat "$SUB_DIR/dns-stub.log")"

# --- 2. Postfix --------------------------------------------------------------

PHASE=postfix-setup
log "configuring Postfix on $PF_SMTP (SMTP) and $PF_SUB (submission)"
sed -e "s|@DOMAINS@|bench.test big.test check.test|" -e "s|@VMAIL@|$VMAIL|" \
    -e "s|@UID@|$VUID|" -e "s|@GID@|$VGID|" -e "s|@LOG@|$PF_LOG|" \
    -e "s|@TRANSPORT@|$PF_TRANSPORT|" \
    "$TEMPLATES/main.cf.in" > /etc/postfix/main.cf
{
    for i in $(seq 0 $((MAILBOXES - 1))); do echo "user$i@bench.test bench.test/user$i/"; done
    echo "user0@big.test big.test/user0/"
    # Phase c's DKIM check: one signed message, on its own, to look at.
    echo "user0@check.test check.test/user0/"
} > "$PF_MAP"
postmap "hash:$PF_MAP"
# The remote domain of phase c goes to Postfix's sink, nowhere else.
echo "remote.test smtp:[${PF_SINK%:*}]:${PF_SINK##*:}" > "$PF_TRANSPORT"
postmap "hash:$PF_TRANSPORT"
# Move the SMTP listener from *:25 to 127.0.0.1:2526; the rest of master.cf
# (chroot, process limits) stays as Debian ships it.
[ -z "$(postconf -M smtp/inet 2>/dev/null)" ] || postconf -M# smtp/inet
# A listener from an earlier run on another PF_SMTP_PORT or PF_SUB_PORT
# goes away.
for svc in $(postconf -M | awk '$1 ~ /^127\.0\.0\.1:[0-9]+$/ && $2 == "inet" { print $1 }'); do
    [ "$svc" = "$PF_SMTP" ] || [ "$svc" = "$PF_SUB" ] || postconf -MX "$svc/inet"
done
postconf -Me "$PF_SMTP/inet=$PF_SMTP inet n - y - - smtpd"
# Submission: Debian's commented-out example in master.cf, on loopback, with
# SASL from Dovecot and our TLS pair. Everything else (smtpd process limits,
# the smtp client, the queue manager) stays as shipped.
sub_opts=(
    syslog_name=postfix/submission
    smtpd_tls_security_level=encrypt
    "smtpd_tls_cert_file=$TLS_DIR/cert.pem"
    "smtpd_tls_key_file=$TLS_DIR/key.pem"
    smtpd_sasl_auth_enable=yes
    smtpd_sasl_type=dovecot
    "smtpd_sasl_path=$PF_SASL_PATH"
    smtpd_tls_auth_only=yes
    smtpd_reject_unlisted_recipient=no
    smtpd_relay_restrictions=permit_sasl_authenticated,reject
    smtpd_recipient_restrictions=permit_sasl_authenticated,reject
)
postconf -Me "$PF_SUB/inet=$PF_SUB inet n - y - - smtpd$(printf ' -o %s' "${sub_opts[@]}")"
# Queue files from an earlier, interrupted run would be delivered into the
# fresh maildirs and spoil the counts.
postsuper -d ALL >/dev/null 2>&1 || true
postfix check
# smtpd runs chrooted in /var/spool/postfix; Debian's service unit copies
# /etc/hosts, resolv.conf etc. into the chroot before starting. There is no
# systemd here, so do the same step by hand.
/usr/lib/postfix/configure-instance.sh -
if postfix status >/dev/null 2>&1; then postfix reload; else postfix start; fi
POSTFIX_STARTED=1
wait_port "$PF_SMTP"
wait_port "$PF_SUB"

# --- 3. OpenDKIM -------------------------------------------------------------

# Started now, idle until phase c switches Postfix's milter on for its
# second run. Signing only (Mode s): bench.test mail from 127.0.0.1 (the
# default InternalHosts) or from a SASL-authenticated client. One 2048-bit
# RSA key, as mailhost makes on `domain add`.
PHASE=opendkim-setup
log "starting OpenDKIM (signing milter for Postfix's second submission run) on $OD_WHERE"
(umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$OD_DIR/$OD_SELECTOR.private" 2>/dev/null) || die "openssl could not make the DKIM key"
# The public half as the TXT record would publish it, for opendkim -t below.
echo "$OD_SELECTOR._domainkey.bench.test v=DKIM1; k=rsa; p=$(openssl pkey -in "$OD_DIR/$OD_SELECTOR.private" \
    -pubout -outform DER 2>/dev/null | base64 -w0)" > "$OD_DIR/public-keys"
cat > "$OD_DIR/opendkim.conf" <<EOF
# Written by bench/compare.sh.
Mode                s
Domain              bench.test
Selector            $OD_SELECTOR
KeyFile             $OD_DIR/$OD_SELECTOR.private
Canonicalization    relaxed/relaxed
# As Debian's opendkim.conf (and mailhost): h= lists From once more.
OversignHeaders     From
Socket              $(if [ "$OD_SOCKET" = unix ]; then echo "local:$OD_WHERE"; else echo "inet:${OD##*:}@${OD%:*}"; fi)
# It reads the key as root, then runs as its own user with group postfix:
# with UMask 007 the UNIX socket is opendkim:postfix 0770, so smtpd and
# cleanup (user postfix) can connect without changing group memberships.
UserID              opendkim:postfix
UMask               007
# The key is 0600 root, but its path goes through /var/tmp (mode 1777), which
# this check refuses whatever the sticky bit; it is only made at startup.
RequireSafeKeys     no
# In the foreground, stopped by the script; no syslog daemon runs here, so
# what it prints (startup, errors) goes to opendkim.log beside this file.
Background          no
Syslog              no
EOF
opendkim -n -x "$OD_DIR/opendkim.conf" > "$OD_DIR/opendkim.log" 2>&1 \
    || die "opendkim rejects its configuration: $(cat "$OD_DIR/opendkim.log")"
if [ "$OD_SOCKET" = unix ]; then
    mkdir -p "$OD_SOCK_DIR"
    chown opendkim:postfix "$OD_SOCK_DIR"
    chmod 750 "$OD_SOCK_DIR"
fi
opendkim -f -x "$OD_DIR/opendkim.conf" >> "$OD_DIR/opendkim.log" 2>&1 &
OD_PID=$!
echo "$OD_PID" > "$WORK/opendkim.pid"
od_ready() { if [ "$OD_SOCKET" = unix ]; then [ -S "$OD_WHERE" ]; else ss -Hltn "sport = :${OD##*:}" | grep -q .; fi; }
for _ in $(seq 100); do
    od_ready && break
    kill -0 "$OD_PID" 2>/dev/null || die "opendkim exited during startup: $(cat "$OD_DIR/opendkim.log")"
    sleep 0.1
done
od_ready || die "$PHASE: OpenDKIM is not listening on $OD_WHERE"

# --- 4. Dovecot --------------------------------------------------------------

PHASE=dovecot-setup
log "starting Dovecot (POP3, and SASL for Postfix) on $DC_POP"
mkdir -p "$DC_DIR/run" "$DC_DIR/state"
sed -e "s|@DIR@|$DC_DIR|g" -e "s|@VMAIL@|$VMAIL|g" -e "s|@UID@|$VUID|g" \
    -e "s|@GID@|$VGID|g" -e "s|@PORT@|${DC_POP##*:}|g" \
    -e "s|@AUTH_SOCKET@|$DC_AUTH_SOCKET|g" \
    "$TEMPLATES/dovecot.conf.in" > "$DC_DIR/dovecot.conf"
# POP3 logins, and SASL for Postfix's submission service: SUBMITTER
# (user0@bench.test) logs in with the same password as on mailhost.
{
    for i in $(seq 0 $((MAILBOXES - 1))); do echo "user$i@bench.test:{PLAIN}$PASSWORD"; done
    echo "user0@big.test:{PLAIN}$PASSWORD"
} > "$DC_DIR/passwd"
grep -q "^$SUBMITTER:" "$DC_DIR/passwd" || die "$SUBMITTER is missing from Dovecot's passwd-file"
chown root:dovecot "$DC_DIR/passwd"
chmod 640 "$DC_DIR/passwd"
doveconf -c "$DC_DIR/dovecot.conf" -n >/dev/null
dovecot -c "$DC_DIR/dovecot.conf"
DOVECOT_STARTED=1
wait_port "$DC_POP"
for _ in $(seq 100); do [ -S "$DC_AUTH_SOCKET" ] && break; sleep 0.1; done
[ -S "$DC_AUTH_SOCKET" ] || die "Dovecot did not create its auth socket $DC_AUTH_SOCKET"

# --- 5. mailhost -------------------------------------------------------------

PHASE=mailhost-setup
log "starting mailhost on $MH_SMTP (SMTP), $MH_POP (POP3) and $MH_SUB (submission)"
MH_CFG=$MH_DIR/mailhost.toml
SEND_LIMIT=$((2 * SUB_MESSAGES + 1000))
cat > "$MH_CFG" <<EOF
# Written by bench/compare.sh.
[server]
data_dir = "$MH_DIR/data"
hostname = "bench.local"

[listen]
smtp = "$MH_SMTP"
pop3 = "$MH_POP"
pop3s = ""
imap = ""
imaps = ""
submission = "$MH_SUB"
submissions = ""
http = ""

# The pair Postfix presents too.
[tls]
cert = "$TLS_DIR/cert.pem"
key = "$TLS_DIR/key.pem"

[delivery]
# SPF/DKIM/DMARC lookups go to the loopback stub, never off the machine.
dns_server = "$DNS"
# Phase c: the remote domain goes to mailhost's sink (as in bench/run.sh).
routes = { "remote.test" = "$MH_SINK" }
per_domain = 16

# Postfix as shipped has no sending limits; mailhost's hourly limits per
# account and per domain (R-OUT-6, R-OUT-7) and its bulk threshold go above
# what phase c sends, which would otherwise put user0 on hold after 300.
[policy]
hourly_limit = $SEND_LIMIT
domain_hourly_limit = $SEND_LIMIT
bulk_threshold = $SEND_LIMIT

[limits]
connections_per_ip = 5000
max_connections = 5000
EOF
mh() { "$MAILHOST" --config "$MH_CFG" "$@" >/dev/null; }
mh domain add bench.test --contact admin@bench.test
mh domain add big.test --contact admin@big.test
# A quota large enough that the fill phase never hits it, whatever
# POP_MESSAGES is (Postfix has no quota either).
for i in $(seq 0 $((MAILBOXES - 1))); do
    mh user add "user$i@bench.test" --password "$PASSWORD" --quota 16GB
done
mh user add user0@big.test --password "$PASSWORD" --quota 16GB
# Starts mailhost with $MH_CFG (appending to its log) and waits until it is
# ready.
start_mailhost() {
    local from
    from=1
    [ -f "$MH_DIR/serve.log" ] && from=$(($(wc -l < "$MH_DIR/serve.log") + 1))
    "$MAILHOST" --config "$MH_CFG" serve >> "$MH_DIR/serve.log" 2>&1 &
    MH_PID=$!
    echo "$MH_PID" > "$MH_DIR/mailhost.pid"
    for _ in $(seq 300); do
        tail -n +"$from" "$MH_DIR/serve.log" | grep -q '^mailhost: ready' && return 0
        kill -0 "$MH_PID" 2>/dev/null || { tail -5 "$MH_DIR/serve.log" >&2; die "mailhost exited during startup"; }
        sleep 0.1
    done
    die "mailhost did not report ready within 30s"
}
start_mailhost

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
BUSY_BEFORE=$(cpu_busy)
[ "$BUSY_BEFORE" -le 10 ] || echo "compare.sh: warning: the CPUs are ${BUSY_BEFORE}% busy before the first phase; the figures will be noisy" >&2

# --- a. SMTP acceptance ------------------------------------------------------

smtp_args=(--sessions "$SESSIONS" --messages "$MESSAGES" --size "$SIZE" --domain bench.test --mailboxes "$MAILBOXES")

PHASE="smtp mailhost"
log "SMTP: $SESSIONS sessions x $MESSAGES messages x $SIZE B -> mailhost"
sleep "$SETTLE"
run_client smtp --addr "$MH_SMTP" "${smtp_args[@]}"
MH_SMTP_RATE=$RUN_RATE

PHASE="smtp postfix"
log "SMTP: $SESSIONS sessions x $MESSAGES messages x $SIZE B -> Postfix"
sleep "$SETTLE"
t0=$(now)
run_client smtp --addr "$PF_SMTP" "${smtp_args[@]}"
PF_SMTP_RATE=$RUN_RATE
wait_delivered bench.test "$MESSAGES"
t1=$(now)
PF_DELIV_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
PF_DELIV_RATE=$(awk -v n="$MESSAGES" -v s="$PF_DELIV_SECS" 'BEGIN { printf "%.0f", n / s }')
echo "   postfix: all $MESSAGES messages in the maildirs after ${PF_DELIV_SECS}s = $PF_DELIV_RATE msg/s"

# --- b. POP3 -----------------------------------------------------------------

fill_args=(--sessions "$SESSIONS" --messages "$POP_MESSAGES" --size "$SIZE" --domain big.test --mailboxes 1)
PHASE="pop3 fill"
log "filling user0@big.test with $POP_MESSAGES messages on both"
run_client smtp --addr "$MH_SMTP" "${fill_args[@]}"
run_client smtp --addr "$PF_SMTP" "${fill_args[@]}"
wait_delivered big.test "$POP_MESSAGES"

pop_args=(--users user0@big.test --password "$PASSWORD" --window 64)
pop_run() { # NAME ADDR: one POP3 session; checks that every message came back
    PHASE="pop3 $1"
    sleep "$SETTLE"
    run_client pop3 --addr "$2" "${pop_args[@]}"
    [ "$RUN_N" -eq "$POP_MESSAGES" ] || die "$PHASE: retrieved $RUN_N messages, expected $POP_MESSAGES"
}
log "POP3: pipelined RETR of $POP_MESSAGES messages, first session"
pop_run mailhost "$MH_POP"; MH_POP1=$RUN_RATE
pop_run dovecot "$DC_POP"; DC_POP1=$RUN_RATE
log "POP3: pipelined RETR of $POP_MESSAGES messages, second session"
pop_run mailhost "$MH_POP"; MH_POP2=$RUN_RATE
pop_run dovecot "$DC_POP"; DC_POP2=$RUN_RATE

# --- c. authenticated submission, relayed to a remote domain -----------------

sub_args=(--sessions "$SESSIONS" --messages "$SUB_MESSAGES" --size "$SIZE" --domain remote.test
          --mailboxes "$MAILBOXES" --starttls --auth "$SUBMITTER:$PASSWORD" --from "$SUBMITTER")

# NAME SUBMISSION_ADDR SINK_ADDR: one run through a fresh sink. Leaves the
# client's rate in SUB_RATE and the end-to-end figures (client start to the
# sink's last message) in E2E_SECS and E2E_RATE.
submission_run() {
    local name=$1 addr=$2 sink=$3 out t0 t1 rc=0 n
    PHASE="submission $name"
    log "submission: $SESSIONS sessions x $SUB_MESSAGES messages x $SIZE B, STARTTLS + AUTH -> $name -> sink on $sink"
    start_sink "$sink" "$SUB_DIR/sink-$name.log"
    sleep "$SETTLE"
    t0=$(now)
    run_client smtp --addr "$addr" "${sub_args[@]}"
    SUB_RATE=$RUN_RATE
    wait "$SINK_PID" || rc=$?
    t1=$(now)
    SINK_PID=
    rm -f "$WORK/sink.pid"
    out=$(grep -v 'listening on' "$SUB_DIR/sink-$name.log" || true)
    if [ "$rc" -ne 0 ]; then
        if [[ $name == postfix* ]]; then
            postqueue -p | tail -5 >&2 || true
            tail -5 "$PF_LOG" >&2 || true
            [ -z "$PF_MILTER" ] || tail -5 "$OD_DIR/opendkim.log" >&2 || true
        else
            tail -5 "$MH_DIR/serve.log" >&2 || true
        fi
        die "$PHASE: the sink did not receive all $SUB_MESSAGES messages (exit $rc): $out"
    fi
    echo "   $out"
    n=$(sed -n 's/^sink: \([0-9][0-9]*\) messages in.*/\1/p' <<<"$out")
    [ -n "$n" ] || die "$PHASE: cannot parse the sink's output: $out"
    # The sink counts every DATA it accepts: more than were sent means a
    # message went twice (a retry), which this benchmark does not expect.
    [ "$n" -eq "$SUB_MESSAGES" ] || die "$PHASE: the sink received $n messages for $SUB_MESSAGES sent"
    E2E_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    E2E_RATE=$(awk -v n="$SUB_MESSAGES" -v s="$E2E_SECS" 'BEGIN { printf "%.0f", n / s }')
    echo "   $name: all $SUB_MESSAGES messages at the sink ${E2E_SECS}s after the client started = $E2E_RATE msg/s end to end"
}

# The sink keeps no messages, so the check that Postfix+OpenDKIM signs is
# made on one message sent the same way (submission, STARTTLS, AUTH, From
# SUBMITTER) to user0@check.test, which virtual(8) writes into a maildir:
# its header section must hold a DKIM-Signature for d=bench.test with our
# selector, and opendkim -t must verify it against the public key.
check_dkim() {
    local msg sig out
    PHASE="submission postfix-opendkim check"
    log "checking that Postfix+OpenDKIM signs: one message -> user0@check.test"
    run_client smtp --addr "$PF_SUB" --sessions 1 --messages 1 --size "$SIZE" --domain check.test \
        --mailboxes 1 --starttls --auth "$SUBMITTER:$PASSWORD" --from "$SUBMITTER"
    wait_delivered check.test 1
    msg=$(find "$VMAIL/check.test" -mindepth 3 -maxdepth 3 -type f -path '*/new/*' | head -1)
    [ -n "$msg" ] || die "$PHASE: the check message is not in $VMAIL/check.test"
    # The header section only, the field unfolded, without blanks.
    sig=$(awk '/^\r?$/ { exit } /^[^ \t]/ { on = tolower($0) ~ /^dkim-signature:/ } on' "$msg" | tr -d '\r\n\t ')
    [ -n "$sig" ] || { tail -5 "$OD_DIR/opendkim.log" >&2 || true; die "$PHASE: no DKIM-Signature in $msg: Postfix+OpenDKIM does not sign"; }
    [[ $sig == *";d=bench.test;"* && $sig == *";s=$OD_SELECTOR;"* && $sig == *";a=rsa-sha256;"* && $sig == *";c=relaxed/relaxed;"* ]] \
        || die "$PHASE: unexpected DKIM-Signature in $msg: $sig"
    cat > "$OD_DIR/verify.conf" <<EOF
# Written by bench/compare.sh: opendkim -t, keys from a file, not the DNS.
Mode                v
TestPublicKeys      $OD_DIR/public-keys
Syslog              no
EOF
    # opendkim -t exits 0 whatever the result; -vv prints the
    # Authentication-Results field it would add.
    out=$(opendkim -x "$OD_DIR/verify.conf" -vv -t "$msg" 2>&1) || die "$PHASE: opendkim -t failed on $msg: $out"
    grep -q "dkim=pass" <<<"$out" || die "$PHASE: the DKIM-Signature in $msg does not verify: $out"
    echo "   signed: ${sig%%;t=*}"
    echo "   opendkim -t: $(grep -o 'dkim=pass[^'\'']*' <<<"$out" | head -1)"
}

PHASE="submission"
sleep "$SETTLE"
LOAD_SUB=$(cut -d' ' -f1-3 /proc/loadavg)
BUSY_SUB=$(cpu_busy)
[ "$BUSY_SUB" -le 10 ] || echo "compare.sh: warning: the CPUs are ${BUSY_SUB}% busy before the submission phase; the figures will be noisy" >&2

submission_run mailhost "$MH_SUB" "$MH_SINK"
MH_SUB_RATE=$SUB_RATE MH_E2E_RATE=$E2E_RATE
submission_run postfix "$PF_SUB" "$PF_SINK"
PF_SUB_RATE=$SUB_RATE PF_E2E_RATE=$E2E_RATE
wait_queue_empty "the sink received all $SUB_MESSAGES messages"

# mailhost again, not signing (dkim.sign = false), to compare like with like
# against the unsigned Postfix: the same data directory, restarted.
PHASE="submission mailhost-unsigned setup"
stop_mailhost
printf '\n# Written by bench/compare.sh for the unsigned run.\n[dkim]\nsign = false\n' >> "$MH_CFG"
start_mailhost
submission_run mailhost-unsigned "$MH_SUB" "$MH_SINK"
MHU_SUB_RATE=$SUB_RATE MHU_E2E_RATE=$E2E_RATE

# The same Postfix again, now signing through OpenDKIM. A milter that cannot
# be reached tempfails the message rather than passing it unsigned. reload:
# smtpd and cleanup processes of the first run exit, new ones read the milter
# settings.
PHASE="submission postfix-opendkim setup"
postconf -e "smtpd_milters = $OD_MILTER" "non_smtpd_milters = $OD_MILTER" "milter_default_action = tempfail"
PF_MILTER=1
postfix reload >/dev/null 2>&1 || die "$PHASE: postfix reload failed"
sleep 1
wait_port "$PF_SUB"
check_dkim
# OpenDKIM's own CPU time (user + system, all its threads) over the run.
od_cpu() { awk '{ print $14 + $15 }' "/proc/$OD_PID/stat"; }
od_ticks=$(od_cpu)
submission_run postfix-opendkim "$PF_SUB" "$PF_SINK"
OD_SUB_RATE=$SUB_RATE OD_E2E_RATE=$E2E_RATE
wait_queue_empty "the sink received all $SUB_MESSAGES messages"
kill -0 "$OD_PID" 2>/dev/null || die "$PHASE: opendkim is gone after the run: $(tail -5 "$OD_DIR/opendkim.log")"
OD_CPU=$(awk -v a="$od_ticks" -v b="$(od_cpu)" -v hz="$(getconf CLK_TCK)" -v n="$SUB_MESSAGES" \
    'BEGIN { printf "%.2f s CPU, %.2f ms per message", (b - a) / hz, 1000 * (b - a) / hz / n }')
echo "   opendkim: $OD_CPU"

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
PHASE=summary

# --- d. summary --------------------------------------------------------------

r_smtp=$(ratio "$MH_SMTP_RATE" "$PF_SMTP_RATE")
r_deliv=$(ratio "$MH_SMTP_RATE" "$PF_DELIV_RATE")
r_pop1=$(ratio "$MH_POP1" "$DC_POP1")
r_pop2=$(ratio "$MH_POP2" "$DC_POP2")
r_sub=$(ratio "$MH_SUB_RATE" "$PF_SUB_RATE")
r_e2e=$(ratio "$MH_E2E_RATE" "$PF_E2E_RATE")
r_sub_u=$(ratio "$MHU_SUB_RATE" "$PF_SUB_RATE")
r_e2e_u=$(ratio "$MHU_E2E_RATE" "$PF_E2E_RATE")
r_sub_od=$(ratio "$MH_SUB_RATE" "$OD_SUB_RATE")
r_e2e_od=$(ratio "$MH_E2E_RATE" "$OD_E2E_RATE")

log "summary"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs; CPU busy just before the first phase: ${BUSY_BEFORE}%, before submission: ${BUSY_SUB}%"
echo "load average before: $LOAD_BEFORE; before submission: $LOAD_SUB; after: $LOAD_AFTER (includes this run's own servers)"
echo "load: $SESSIONS SMTP sessions, $MESSAGES x $SIZE B to $MAILBOXES mailboxes; POP3 $POP_MESSAGES messages, window 64"
echo "submission: $SESSIONS sessions, STARTTLS + AUTH PLAIN as $SUBMITTER, $SUB_MESSAGES x $SIZE B to remote.test, relayed to a loopback sink"
echo "Postfix+OpenDKIM: the same Postfix with OpenDKIM as a milter on $OD_MILTER, 2048-bit RSA, c=relaxed/relaxed (mailhost: 2048-bit RSA, relaxed/relaxed); OpenDKIM used $OD_CPU"
echo "versions: $("$MAILHOST" --version); Postfix $(postconf -h mail_version); Dovecot $(dovecot --version | cut -d' ' -f1); OpenDKIM $(opendkim -V 2>/dev/null | sed -n '1s/.* v//p')"
echo
fmt='%-46s %10s %16s %7s  %s\n'
printf "$fmt" "metric (msg/s)" "mailhost" "postfix/dovecot" "ratio" "target"
printf "$fmt" "SMTP accepted" "$MH_SMTP_RATE" "$PF_SMTP_RATE" "$r_smtp" ">= 4.0 $(meets "$r_smtp" 4.0)"
printf "$fmt" "SMTP accepted+delivered" "$MH_SMTP_RATE" "$PF_DELIV_RATE" "$r_deliv" "-"
printf "$fmt" "POP3 pipelined RETR, first session" "$MH_POP1" "$DC_POP1" "$r_pop1" ">= 1.0 $(meets "$r_pop1" 1.0)"
printf "$fmt" "POP3 pipelined RETR, second session" "$MH_POP2" "$DC_POP2" "$r_pop2" ">= 1.0 $(meets "$r_pop2" 1.0)"
printf "$fmt" "submission accepted, only mailhost signing" "$MH_SUB_RATE" "$PF_SUB_RATE" "$r_sub" ">= 4.0 $(meets "$r_sub" 4.0)"
printf "$fmt" "submission end to end, only mailhost signing" "$MH_E2E_RATE" "$PF_E2E_RATE" "$r_e2e" ">= 4.0 $(meets "$r_e2e" 4.0)"
printf "$fmt" "submission accepted, both signing" "$MH_SUB_RATE" "$OD_SUB_RATE" "$r_sub_od" ">= 4.0 $(meets "$r_sub_od" 4.0)"
printf "$fmt" "submission end to end, both signing" "$MH_E2E_RATE" "$OD_E2E_RATE" "$r_e2e_od" ">= 4.0 $(meets "$r_e2e_od" 4.0)"
printf "$fmt" "submission accepted, neither signing" "$MHU_SUB_RATE" "$PF_SUB_RATE" "$r_sub_u" ">= 4.0 $(meets "$r_sub_u" 4.0)"
printf "$fmt" "submission end to end, neither signing" "$MHU_E2E_RATE" "$PF_E2E_RATE" "$r_e2e_u" ">= 4.0 $(meets "$r_e2e_u" 4.0)"
echo
echo "(mailhost answers 250 after the message is fsynced into the mailbox, so its accepted rate is also its delivered rate.)"
echo "(end to end: from the start of the submission run until the sink has every message.)"
echo "(both signing: mailhost as configured by default, and the same Postfix signing every relayed message through OpenDKIM.)"
echo "(neither signing: mailhost restarted with dkim.sign = false, and Postfix without a milter.)"
echo "(only mailhost signing: mailhost signing, Postfix not; it does more work than Postfix here.)"
