#!/usr/bin/env bash
# bench/av.sh: the virus scanner (issue 13), loopback and local files only.
#
#   1. One generated database (NDB + HDB signatures, NDB=10000, HDB=10000,
#      plus EICAR), loaded by the built-in engine and by Debian's clamd
#      (a database directory holding only it, bytecode off, started
#      offline; its load time is the time to its socket).
#   2. `mailhost-bench av`: raw matching speed, the same corpus through
#      both engines at 1 and 2 threads (messages/s, MB/s, p50/p99, peak
#      RSS), and each bomb against the built-in engine (time, extra peak
#      memory, verdict).
#   3. SMTP acceptance of 4 KB mail without attachments, scanning on (this
#      tree) against scanning off (the tree before virus checking, BASE_REV,
#      built once into target/av-base), alternately, ROUNDS rounds each
#      (bench/run.sh phase 1); prints the ratio of the medians.
#
#   bench/av.sh                      # all of it (as root: installs clamd)
#   SECONDS_PER=3 ROUNDS=1 bench/av.sh   # quicker
#   SKIP_SMTP=1 bench/av.sh          # engines only
set -euo pipefail
cd "$(dirname "$0")/.."

NDB=${NDB:-10000}
HDB=${HDB:-10000}
SECONDS_PER=${SECONDS_PER:-10}
ROUNDS=${ROUNDS:-3}
BASE_REV=${BASE_REV:-e89d366}
WORK=${WORK:-/var/tmp/mailhost-bench/av}

[ -x /usr/sbin/clamd ] || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clamav-daemon >/dev/null; }
cargo build --release -q -p mailhost -p mailhost-bench
LOAD=$PWD/target/release/mailhost-bench

rm -rf "$WORK" && mkdir -p "$WORK/sigs"
"$LOAD" av-sigs --out "$WORK/sigs" --ndb "$NDB" --hdb "$HDB"
cat > "$WORK/clamd.conf" <<CONF
Foreground yes
DatabaseDirectory $WORK/sigs
LocalSocket $WORK/clamd.sock
LogFile $WORK/clamd.log
Bytecode no
AlertExceedsMax yes
SelfCheck 0
MaxThreads 4
CONF
t0=$(date +%s%N)
/usr/sbin/clamd -c "$WORK/clamd.conf" >/dev/null 2>&1 &
CLAMD=$!
trap 'kill $CLAMD 2>/dev/null || true' EXIT
until python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])" "$WORK/clamd.sock" 2>/dev/null; do
    kill -0 $CLAMD 2>/dev/null || { cat "$WORK/clamd.log"; exit 1; }
    sleep 0.05
done
echo "== $(date -u +%F) $(nproc) cores, $(uname -m); $(/usr/sbin/clamd --version)"
echo "av: clamd loaded its database in $(( ($(date +%s%N) - t0) / 1000000 )) ms, RSS $(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' /proc/$CLAMD/status)"
"$LOAD" av --sigs "$WORK/sigs" --clamd "$WORK/clamd.sock" --clamd-pid "$CLAMD" --seconds "$SECONDS_PER"
kill $CLAMD 2>/dev/null || true

[ -n "${SKIP_SMTP:-}" ] && exit 0
echo "== SMTP acceptance, 4 KB without attachments: scanning on (HEAD) vs off ($BASE_REV)"
BASE_DIR=$PWD/target/av-base
if [ ! -x "$BASE_DIR/target/release/mailhost" ]; then
    rm -rf "$BASE_DIR" && git worktree prune
    git worktree add -f -q "$BASE_DIR" "$BASE_REV"
    # Start from this tree's build: only the crates that differ rebuild.
    mkdir -p "$BASE_DIR/target" && cp -a target/release "$BASE_DIR/target/"
    CARGO_TARGET_DIR=$BASE_DIR/target cargo build --release -q --manifest-path "$BASE_DIR/Cargo.toml" -p mailhost
fi
rate() { grep -o '= [0-9]* msg/s' | head -1 | tr -dc 0-9; }
on=(); off=()
for r in $(seq 1 "$ROUNDS"); do
    off+=("$(PHASES=1 MH=$BASE_DIR/target/release/mailhost bench/run.sh 2>/dev/null | rate)")
    on+=("$(PHASES=1 bench/run.sh 2>/dev/null | rate)")
    echo "round $r: off ${off[-1]} msg/s, on ${on[-1]} msg/s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mon=$(median "${on[@]}"); moff=$(median "${off[@]}")
echo "av: SMTP acceptance with scanning on: $mon msg/s, off: $moff msg/s, ratio $(awk -v a="$mon" -v b="$moff" 'BEGIN {printf "%.2f", a/b}')"
