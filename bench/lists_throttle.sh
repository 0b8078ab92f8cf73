#!/usr/bin/env bash
# The mailing-list throttle (R-LIST-6) through a running server: POSTS
# (100) posts submitted at once to a list with a remote member at a
# loopback SMTP sink (and a local member), THROTTLE_MS (200) apart at
# most; the spacing of the copies' arrivals at the sink, bursts, order.
# Everything is in bench/lists_throttle.py (its header); this only picks
# the binary: MAILHOST_BIN, or target/release/mailhost built here.
# Usage: bench/lists_throttle.sh   (POSTS=N, THROTTLE_MS=N, or the
#                                   script's options: --posts 50 --throttle-ms 500)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${MAILHOST_BIN:-}" ]; then
    cargo build --release -q -p mailhost
    export MAILHOST_BIN=$PWD/target/release/mailhost
fi
exec python3 bench/lists_throttle.py --posts "${POSTS:-100}" --throttle-ms "${THROTTLE_MS:-200}" "$@"
