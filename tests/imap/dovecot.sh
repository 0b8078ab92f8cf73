#!/usr/bin/env bash
# Prove tests/imap/imaptest_runner.py against Debian's Dovecot.
#
# Installs dovecot-imapd when missing, starts a private Dovecot on
# 127.0.0.1:$DOVECOT_PORT (default 14300; IMAPS on the next port) with its
# own configuration, users and maildirs in a temporary directory, runs the
# runner over every imaptest script, then stops that Dovecot (by the pid of
# its master process) and removes the directory.  Needs root (apt-get, and
# Dovecot's master drops privileges itself).
#
# Environment:
#   DOVECOT_PORT      IMAP port (default 14300); IMAPS uses DOVECOT_PORT+1
#   IMAPTEST_DIR      scripts (default: ../shared/conformance/imaptest/tests beside the checkout)
#   IMAPTEST_LOG_DIR  protocol traces per script (default /tmp/imaptest-dovecot-logs)
#   KEEP_DOVECOT_DIR  set to 1 to keep the temporary directory
#   DOVECOT_URLAUTH   set to 1 to enable URLAUTH (imap_urlauth_host and a
#                     mailbox attribute dict), so the urlauth* scripts run
#                     instead of being skipped; the second user then gets a
#                     mailbox named "imaptest", which urlauth2 SELECTs on its
#                     second connection (imaptest creates it for user 1 only)
#   DOVECOT_EXTRA_CONF  extra lines appended to the private dovecot.conf
#                     (e.g. an imap_capability without LITERAL+, to exercise
#                     the runner's synchronizing literals)
# Extra arguments are passed to the runner (e.g. --only fetch store).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tests=${IMAPTEST_DIR:-$here/../../../shared/conformance/imaptest/tests}
port=${DOVECOT_PORT:-14300}
tls_port=$((port + 1))
logdir=${IMAPTEST_LOG_DIR:-/tmp/imaptest-dovecot-logs}

if [ ! -x /usr/sbin/dovecot ] || [ ! -x /usr/lib/dovecot/imap ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y dovecot-imapd
fi

# The package may have started the system service; it would not disturb
# us (other ports, other base_dir), but the brief is a private instance only.
if [ -s /run/dovecot/master.pid ] && kill -0 "$(cat /run/dovecot/master.pid)" 2>/dev/null; then
    echo "stopping the system dovecot service"
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        systemctl stop dovecot || true
    else
        service dovecot stop || true
    fi
fi

dir=$(mktemp -d /tmp/mailhost-dovecot.XXXXXX)
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

# users: passwd-file with plaintext passwords (loopback test instance)
cat >"$dir/passwd" <<EOF
testuser:{PLAIN}testpass
testuser2:{PLAIN}testpass2
EOF
chmod 644 "$dir/passwd"

# a self-signed certificate for the IMAPS listener (used by a --tls smoke run)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" >/dev/null 2>&1

cat >"$dir/dovecot.conf" <<EOF
# private Dovecot for the imaptest runner; nothing here touches /etc/dovecot
instance_name = mailhost-imaptest
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

mail_location = maildir:~/Maildir
mailbox_list_index = yes
namespace inbox {
  inbox = yes
  separator = /
}

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
EOF
if [ "${DOVECOT_URLAUTH:-0}" = 1 ]; then
    cat >>"$dir/dovecot.conf" <<EOF
imap_urlauth_host = 127.0.0.1
mail_attribute_dict = file:%h/dovecot-attributes
EOF
fi
if [ -n "${DOVECOT_EXTRA_CONF:-}" ]; then
    printf '%s\n' "$DOVECOT_EXTRA_CONF" >>"$dir/dovecot.conf"
fi

/usr/sbin/dovecot -c "$dir/dovecot.conf"
for _ in $(seq 1 100); do
    [ -s "$dir/run/master.pid" ] && break
    sleep 0.1
done
master_pid=$(cat "$dir/run/master.pid")
echo "dovecot $(/usr/sbin/dovecot --version) started (master pid $master_pid) on 127.0.0.1:$port"

# wait until it accepts connections
python3 - "$port" <<'EOF'
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
EOF

if [ "${DOVECOT_URLAUTH:-0}" = 1 ]; then
    /usr/bin/doveadm -c "$dir/dovecot.conf" mailbox create -u testuser2 imaptest
fi

rm -rf "$logdir"
rc=0
python3 "$here/imaptest_runner.py" --host 127.0.0.1 --port "$port" \
    --user testuser --password testpass --user2 testuser2 --password2 testpass2 \
    --capabilities-from-server --log-dir "$logdir" "$@" "$tests" || rc=$?

# the same over implicit TLS, for a few scripts (exercises --tls)
if [ $# -eq 0 ] && [ -f "$tests/select" ] && [ -f "$tests/fetch-body" ]; then
    echo "--- over TLS (IMAPS, port $tls_port): a smoke subset"
    python3 "$here/imaptest_runner.py" --host 127.0.0.1 --port "$tls_port" --tls \
        --user testuser --password testpass --capabilities-from-server \
        --only select fetch-body multiappend expunge "$tests" || rc=$?
fi

echo "protocol traces: $logdir; dovecot log: $dir/log/dovecot.log"
if [ "$rc" -ne 0 ] && [ -f "$dir/log/dovecot.log" ]; then
    echo "--- last lines of the dovecot log"
    tail -n 20 "$dir/log/dovecot.log" || true
fi
exit "$rc"
