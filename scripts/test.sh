#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what the tests
# need (PostgreSQL, swaks, curl, pytest), starts PostgreSQL on loopback,
# checks formatting (rustfmt) and lints (clippy, warnings are errors), then
# runs the Rust tests and the end-to-end tests against the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v swaks >/dev/null || need+=(swaks)
command -v curl >/dev/null || need+=(curl)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
# The panels' browser tests: Debian's Chromium and a Japanese font.
command -v chromium >/dev/null || need+=(chromium)
[ -e /usr/share/fonts/opentype/ipafont-gothic ] || need+=(fonts-ipafont-gothic)
command -v node >/dev/null || need+=(nodejs npm)
# The clamd engine's tests: Debian's clamd, started by the tests themselves
# offline with a database they write (no freshclam, no download).
[ -x /usr/sbin/clamd ] || need+=(clamav-daemon)
# Real IMAP clients (tests/e2e/test_imap_clients.py).
command -v mbsync >/dev/null || need+=(isync)
command -v offlineimap >/dev/null || need+=(offlineimap3)
command -v fetchmail >/dev/null || need+=(fetchmail)
# Debian's Postfix as a remote MTA that bounces (tests/e2e/test_lists_postfix.py,
# a private instance in tmp). "No configuration": no /etc/postfix/main.cf, so
# the postinst starts nothing on port 25 and cannot fail for want of an init.
[ -x /usr/sbin/postfix ] || { need+=(postfix); echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; }
if [ ${#need[@]} -gt 0 ]; then
    echo "== installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi
python3 -c "import pytest, aiosmtpd, dnslib" 2>/dev/null || python3 -m pip install -q pytest aiosmtpd dnslib
# imapclient's live test suite (tests/e2e/test_imap_clients.py), pinned.
python3 -c "import imapclient, sys; sys.exit(imapclient.__version__ != '4.1.0')" 2>/dev/null ||
    python3 -m pip install -q imapclient==4.1.0
# API fuzzing against /api/openapi.json (tests/e2e/test_schemathesis.py).
command -v schemathesis >/dev/null || python3 -m pip install -q schemathesis==4.32.5

# PostgreSQL on 127.0.0.1 with a superuser for the tests.
if [ -z "${MAILHOST_TEST_PG:-}" ]; then
    ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
    pg_lsclusters -h | grep -q "^$ver main" || pg_createcluster "$ver" main >/dev/null
    pg_ctlcluster "$ver" main start 2>/dev/null || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
    su postgres -c "psql -q -tc \"SELECT 1 FROM pg_roles WHERE rolname='mailhost'\" | grep -q 1 \
        || psql -q -c \"CREATE ROLE mailhost LOGIN SUPERUSER PASSWORD 'mailhost'\""
    su postgres -c "psql -q -tc \"SELECT 1 FROM pg_database WHERE datname='mailhost'\" | grep -q 1 \
        || createdb -O mailhost mailhost"
    export MAILHOST_TEST_PG="postgres://mailhost:mailhost@127.0.0.1/mailhost"
fi

# The engine comparison and the clamd e2e tests fail, not skip, without it.
export MAILHOST_TEST_CLAMD=1

echo "== rustfmt and clippy"
cargo fmt --all --check
cargo fmt --manifest-path fuzz/Cargo.toml --check
for f in crates/*/fuzz/Cargo.toml; do cargo fmt --manifest-path "$f" --check; done
# --release shares the dependency build with the tests below.
cargo clippy --release --locked --workspace --all-targets -- -D warnings

echo "== cargo build and unit/store tests (release profile: one dependency build)"
cargo build --release --locked --workspace --bins
cargo test --release --locked --workspace

echo "== bounded fuzzing of the hand-written parsers (crates/*/fuzz: the scanner's decoders, unpacker and part walker; IMAP framing, commands, sequence sets, FETCH/SEARCH handling, message structure)"
# FUZZ_SECONDS per target (0 skips); seeds in crates/*/fuzz/seeds, what the
# run finds in target/fuzz-corpus (a crash fails the run and leaves its
# input in that crate's fuzz/artifacts).
if [ "${FUZZ_SECONDS:-30}" != 0 ]; then
    command -v cargo-fuzz >/dev/null || cargo install -q --locked cargo-fuzz
    corpus=$PWD/target/fuzz-corpus
    for dir in crates/*/fuzz; do
        (
            export RUSTC_BOOTSTRAP=1 # cargo-fuzz's -Z flags on the stable toolchain
            cd "$dir"
            cargo fuzz build -O -s none
            for t in $(cargo fuzz list); do
                mkdir -p "$corpus/$t"
                log="$corpus/$t.log"
                if ! cargo fuzz run -O -s none "$t" "$corpus/$t" "seeds/$t" -- \
                    -max_total_time="${FUZZ_SECONDS:-30}" -max_len=65536 -rss_limit_mb=2048 \
                    -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
                    tail -40 "$log"
                    echo "fuzz target $dir $t failed"
                    exit 1
                fi
                echo "$t: $(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$') runs"
            done
        )
    done
fi

echo "== end-to-end tests with real clients"
export MAILHOST_BIN="$PWD/target/release/mailhost"
(cd tests/imap/clients && npm ci --no-audit --no-fund --silent) # imapflow, pinned
python3 -m pytest -q -p no:cacheprovider tests/e2e "$@"

echo "== the panels in headless Chromium (playwright-core, node --test); screenshots in target/e2e/"
(cd tests/browser && npm ci --no-audit --no-fund --silent && node --test --test-concurrency=1)
