#!/usr/bin/env python3
"""Seeds a mailhost SQLite store for bench/policy.sh with the state of a busy
provider, straight into the tables (creating 10,000 accounts through
`mailhost user add` would spend minutes hashing passwords):

  - DOMAINS domains d0.test … (10 per customer: contact bossK@cust.test),
    ACCOUNTS mailboxes spread over them, all with the password of the
    template mailbox (its Argon2 hash is copied) and the template domain's
    DKIM key;
  - hourly send counts (R-OUT-6/7) in the last hour for every account and
    domain;
  - RCPTS tracked recipients in the bulk window (R-OUT-8): clusters with a
    random signature, spread over the last WINDOW_S seconds, each reaching
    PER_CLUSTER recipients (default 20: campaigns) with up to four
    messages a minute apart. PER_CLUSTER=1 is a window of personal mail:
    every message its own content and one recipient, the most memory per
    recipient. Rows already in the window are replaced; the script prints
    what the rows cost on disk.

Usage: seed.py accounts DB TEMPLATE_ADDRESS ACCOUNTS DOMAINS ACCOUNTS_FILE PASSWORD
       seed.py window DB ACCOUNTS DOMAINS RCPTS WINDOW_S [PER_CLUSTER]
(two steps, so that the caller can measure what the window costs on disk).
The schema version must be the one this script was written for (8).
"""
import os
import random
import sqlite3
import sys
import time

SCHEMA = 8
SENDS = 4


def connect(db):
    c = sqlite3.connect(db, timeout=60)
    v = c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if v is None or int(v[0]) != SCHEMA:
        sys.exit(f"seed.py: schema version {v} is not {SCHEMA}; update bench/policy/seed.py")
    return c


def names(domains):
    return [f"d{i}.test" for i in range(domains)]


def addresses(accounts, domains):
    n = names(domains)
    return [f"u{i}@{n[i % domains]}" for i in range(accounts)]


def seed_accounts(db, template, accounts, domains, accounts_file, password):
    c = connect(db)
    now = int(time.time() * 1000)
    rng = random.Random(7)
    (pw_hash,) = c.execute("SELECT password_hash FROM addresses WHERE address = ?", (template,)).fetchone()
    tdom = template.split("@")[1]
    key = c.execute("SELECT selector, algorithm, private_key, public_key FROM dkim_keys WHERE domain = ?",
                    (tdom,)).fetchone()
    doms = names(domains)
    addrs = addresses(accounts, domains)
    with c:
        c.executemany("INSERT INTO domains (name, contact, package, created_at) VALUES (?, ?, NULL, ?)",
                      [(n, f"boss{i // 10}@cust.test", now) for i, n in enumerate(doms)])
        if key:
            c.executemany("INSERT INTO dkim_keys (domain, selector, algorithm, private_key, public_key, created_at) "
                          "VALUES (?, ?, ?, ?, ?, ?)", [(n, *key, now) for n in doms])
        ids = dict(c.execute("SELECT name, id FROM domains"))
        c.executemany("INSERT INTO addresses (address, domain_id, kind, password_hash, suspended, created_at) "
                      "VALUES (?, ?, 'mailbox', ?, 0, ?)",
                      [(a, ids[a.split("@")[1]], pw_hash, now) for a in addrs])
        minute = now // 60000
        rows = []
        for a in addrs:
            for m in rng.sample(range(60), 5):
                rows.append((f"acct:{a}", minute - m, rng.randint(1, 5)))
        for n in doms:
            for m in range(0, 60, 3):
                rows.append((f"dom:{n}", minute - m, rng.randint(1, 20)))
        c.executemany("INSERT OR IGNORE INTO send_counts (key, minute, rcpts) VALUES (?, ?, ?)", rows)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    with open(accounts_file, "w") as f:
        rng.shuffle(addrs)
        for a in addrs:
            f.write(f"{a} {password}\n")


def seed_window(db, accounts, domains, rcpts, window_s, per_cluster):
    c = connect(db)
    if c.execute("SELECT count(*) FROM bulk_log").fetchone()[0]:
        c.execute("DELETE FROM bulk_log")
        c.commit()
        c.execute("VACUUM")
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = os.stat(db).st_size
    sends = min(SENDS, per_cluster)
    now = int(time.time() * 1000)
    rng = random.Random(11)
    addrs = addresses(accounts, domains)
    customers = max(1, domains // 10)
    clusters = rcpts // per_cluster
    rows = []
    for k in range(clusters):
        cid = rng.getrandbits(62) + 1
        first = now - rng.randint(sends * 60_000, window_s * 1000 - 1)
        # `sends` messages a minute apart, per_cluster/sends recipients
        # each; the first introduces the cluster (customer, signature).
        for m in range(sends):
            keys = [rng.getrandbits(63) - (1 << 62) for _ in range(per_cluster // sends)]
            blob = b"".join(x.to_bytes(8, "big", signed=True) for x in keys)
            intro = (f"boss{k % customers}@cust.test", os.urandom(32)) if m == 0 else (None, None)
            rows.append((first + m * 60_000, cid, *intro, addrs[(k + m) % accounts], blob))
    # The log is in commit order, which is time order.
    rows.sort(key=lambda r: r[0])
    with c:
        c.executemany("INSERT INTO bulk_log (at, cluster, customer, signature, account, rcpts) "
                      "VALUES (?, ?, ?, ?, ?, ?)", rows)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    grown = os.stat(db).st_size - before
    print(f"bulk window on disk: {grown // 2**20} MB for {rcpts} recipients ({per_cluster} per content) "
          f"= {grown // rcpts} bytes per tracked recipient")


def main():
    if sys.argv[1] == "accounts":
        db, template, accounts, domains, accounts_file, password = sys.argv[2:8]
        seed_accounts(db, template, int(accounts), int(domains), accounts_file, password)
    elif sys.argv[1] == "window":
        db, accounts, domains, rcpts, window_s = sys.argv[2:7]
        per_cluster = int(sys.argv[7]) if len(sys.argv) > 7 else 20
        seed_window(db, int(accounts), int(domains), int(rcpts), int(window_s), per_cluster)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
