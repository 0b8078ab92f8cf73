#!/usr/bin/env bash
# Prove tests/imap/stress.py against Debian's Dovecot (dovecot-imapd 2.3).
#
# The same approach as dovecot.sh: installs dovecot-imapd when missing,
# starts a private Dovecot on 127.0.0.1:$DOVECOT_PORT (default 14310; IMAPS
# on the next port) with its own configuration, user and maildirs in a
# temporary directory, runs the stress harness, then stops that Dovecot (by
# the pid of its master process) and removes the directory.  Needs root.
#
# Runs, in order (each must exit 0):
#   1. concurrent, STARTTLS, default size (4 sessions x 200 ops)
#   2. --serial (the model checked at every step), IMAPS
#   3. --self-test: damaged answers through the harness's proxy must fail
#
# Environment:
#   DOVECOT_PORT      IMAP port (default 14310); IMAPS uses DOVECOT_PORT+1
#   STRESS_SEED       seed (default 1)
#   STRESS_LOG_DIR    protocol traces (default /tmp/stress-dovecot-logs)
#   DOVECOT_MAIL_LOCATION  default sdbox:~/sdbox (see the comment in the
#                     configuration below about maildir)
#   KEEP_DOVECOT_DIR  set to 1 to keep the temporary directory
#   STRESS_DOVECOT_SERVE  set to 1 to only start Dovecot and wait (for
#                     manual runs: user stressuser, password stresspass)
# Extra arguments are passed to every stress.py run (e.g. --sessions 6).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
port=${DOVECOT_PORT:-14310}
tls_port=$((port + 1))
seed=${STRESS_SEED:-1}
logdir=${STRESS_LOG_DIR:-/tmp/stress-dovecot-logs}

if [ ! -x /usr/sbin/dovecot ] || [ ! -x /usr/lib/dovecot/imap ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y dovecot-imapd
fi

dir=$(mktemp -d /tmp/mailhost-dovecot-stress.XXXXXX)
chmod 755 "$dir"
master_pid=""

cleanup() {
    status=$?
    if [ -n "$master_pid" ] && kill -0 "$master_pid" 2>/dev/null; then
        kill -TERM "$master_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$master_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$master_pid" 2>/dev/null; then
            kill -KILL "$master_pid" 2>/dev/null || true
        fi
    fi
    if [ "${KEEP_DOVECOT_DIR:-0}" = 1 ]; then
        echo "kept $dir"
    else
        rm -rf "$dir"
    fi
    exit "$status"
}
trap cleanup EXIT INT TERM

mail_uid=$(id -u mail)
mail_gid=$(id -g mail)
mkdir -p "$dir/run" "$dir/state" "$dir/home" "$dir/log"
chown "$mail_uid:$mail_gid" "$dir/home"

cat >"$dir/passwd" <<PASSWD
stressuser:{PLAIN}stresspass
PASSWD
chmod 644 "$dir/passwd"

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" >/dev/null 2>&1

cat >"$dir/dovecot.conf" <<CONF
# private Dovecot for the stress harness; nothing here touches /etc/dovecot
instance_name = mailhost-stress
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/log/dovecot.log
protocols = imap
listen = 127.0.0.1
default_internal_user = dovecot
default_login_user = dovenull

ssl = yes
ssl_cert = <$dir/cert.pem
ssl_key = <$dir/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/passwd
}
userdb {
  driver = static
  args = uid=$mail_uid gid=$mail_gid home=$dir/home/%n
}
first_valid_uid = $mail_uid
first_valid_gid = $mail_gid

# sdbox, not maildir: with maildir, concurrent flag changes (file renames)
# race with the uidlist and Dovecot gives a message a new UID ("Duplicate
# file entry ... (uid 151 -> 290)", "Expunged message reappeared, giving a
# new UID"); the harness reports that as a message that went away without
# \Deleted.  DOVECOT_MAIL_LOCATION=maildir:~/Maildir shows it.
mail_location = ${DOVECOT_MAIL_LOCATION:-sdbox:~/sdbox}
mailbox_list_index = yes
namespace inbox {
  inbox = yes
  separator = /
}
# several sessions of one user from one address (the default is 10)
mail_max_userip_connections = 50

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $tls_port
    ssl = yes
  }
}
CONF

/usr/sbin/dovecot -c "$dir/dovecot.conf"
for _ in $(seq 1 100); do
    [ -s "$dir/run/master.pid" ] && break
    sleep 0.1
done
master_pid=$(cat "$dir/run/master.pid")
echo "dovecot $(/usr/sbin/dovecot --version) started (master pid $master_pid) on 127.0.0.1:$port"

python3 - "$port" <<'PY'
import socket, sys, time
deadline = time.monotonic() + 15
while True:
    try:
        with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2) as s:
            s.settimeout(5)
            if s.recv(200).startswith(b"* OK"):
                break
    except OSError:
        pass
    if time.monotonic() > deadline:
        sys.exit("dovecot did not come up")
    time.sleep(0.2)
PY

if [ "${STRESS_DOVECOT_SERVE:-0}" = 1 ]; then
    echo "serving: imap 127.0.0.1:$port, imaps $tls_port, stressuser/stresspass; log $dir/log/dovecot.log"
    while kill -0 "$master_pid" 2>/dev/null; do sleep 1; done
    exit 0
fi

rm -rf "$logdir"
rc=0
common=(--host 127.0.0.1 --user stressuser --password stresspass --seed "$seed")

echo "--- 1. concurrent, STARTTLS"
python3 "$here/stress.py" "${common[@]}" --port "$port" --starttls \
    --log-dir "$logdir/concurrent" "$@" || rc=1
echo "--- 2. serial (model checked at every step), IMAPS"
python3 "$here/stress.py" "${common[@]}" --port "$tls_port" --tls --serial \
    --log-dir "$logdir/serial" "$@" || rc=1
echo "--- 3. self-test (damaged answers must fail the run)"
python3 "$here/stress.py" "${common[@]}" --port "$port" --starttls --self-test \
    --sessions 3 --ops 60 "$@" || rc=1

echo "protocol traces: $logdir; dovecot log: $dir/log/dovecot.log"
if [ "$rc" -ne 0 ] && [ -f "$dir/log/dovecot.log" ]; then
    echo "--- last lines of the dovecot log"
    tail -n 20 "$dir/log/dovecot.log" || true
fi
exit "$rc"
