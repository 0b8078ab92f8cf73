// Drives mailhost's IMAP server with imapflow (pinned in package.json), a
// client nobody here wrote. Run by tests/e2e/test_imap_clients.py, which
// owns the server and delivers mail over SMTP; this script only speaks
// IMAP and reports what it saw as one JSON object on the last stdout line.
//
// Environment:
//   IMAP_HOST, IMAPS_PORT, IMAP_PORT    implicit TLS port and STARTTLS port
//   IMAP_USER, IMAP_PASS                the account (already holding the
//                                       messages MSG_COUNT says)
//
// Usage: node imapflow-check.mjs sync|compress
//   sync      STARTTLS login, CONDSTORE (FETCH CHANGEDSINCE), QRESYNC
//             (SELECT ... QRESYNC after another connection's expunge:
//             VANISHED (EARLIER)), IDLE woken by an SMTP delivery. INBOX
//             must hold at least three messages.
//             Mid-run it prints "IDLE_READY <epoch ms>" on its own line:
//             the client is idling and the Python side delivers one
//             message now; the EXISTS that causes ends the wait, and the
//             script reports when it arrived.
//   compress  COMPRESS=DEFLATE (RFC 4978): if advertised, turned on, then an
//             APPEND and a FETCH of the whole message through it; if not,
//             {"compress": {"advertised": false}} and the caller decides.

import { ImapFlow } from 'imapflow';

const env = process.env;
const host = env.IMAP_HOST || '127.0.0.1';
const user = env.IMAP_USER;
const pass = env.IMAP_PASS;
const out = { steps: [] };

function client(extra = {}) {
    return new ImapFlow({
        host,
        port: Number(env.IMAPS_PORT),
        secure: true,
        // The test server's certificate is self-signed.
        tls: { rejectUnauthorized: false },
        auth: { user, pass },
        logger: false,
        disableAutoIdle: true,
        disableCompression: true,
        connectionTimeout: 15000,
        greetingTimeout: 15000,
        socketTimeout: 60000,
        ...extra
    });
}

function step(name, data) {
    out.steps.push(name);
    out[name] = data;
}

async function withTimeout(promise, ms, what) {
    let timer;
    const t = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms} ms`)), ms);
    });
    try {
        return await Promise.race([promise, t]);
    } finally {
        clearTimeout(timer);
    }
}

async function sync() {
    // --- STARTTLS on the plain port: login and a LIST ---
    {
        const c = client({ port: Number(env.IMAP_PORT), secure: false, doSTARTTLS: true });
        await c.connect();
        const folders = (await c.list()).map(f => ({ path: f.path, specialUse: f.specialUse || null }));
        step('starttls', { secure: !!c.secureConnection || !!c.socket?.encrypted, folders });
        await c.logout();
    }

    // --- CONDSTORE: FETCH (CHANGEDSINCE) returns only what changed ---
    const a = client();
    await a.connect();
    const enabled = [...a.enabled];
    let box = await a.mailboxOpen('INBOX');
    const all = [];
    for await (const m of a.fetch('1:*', { uid: true, flags: true, envelope: true })) {
        all.push({ uid: m.uid, seq: m.seq, modseq: String(m.modseq), subject: m.envelope.subject, flags: [...m.flags] });
    }
    const modseqBefore = String(box.highestModseq);
    const target = all[1].uid;
    await a.messageFlagsAdd(String(target), ['\\Flagged'], { uid: true });
    const changed = [];
    for await (const m of a.fetch('1:*', { uid: true, flags: true }, { changedSince: BigInt(modseqBefore) })) {
        changed.push({ uid: m.uid, modseq: String(m.modseq), flags: [...m.flags] });
    }
    const status = await a.status('INBOX', { messages: true, highestModseq: true, uidNext: true });
    step('condstore', {
        enabled,
        exists: box.exists,
        uidValidity: String(box.uidValidity),
        highestModseqBefore: modseqBefore,
        highestModseqAfter: String(status.highestModseq),
        messages: all,
        flaggedUid: target,
        changedSince: changed
    });

    // --- QRESYNC: remember the state, change it from another connection,
    // reconnect with SELECT (QRESYNC (uidvalidity modseq)) and hear about
    // the expunge as VANISHED (EARLIER) and the flag change as FETCH ---
    {
        const q1 = client({ qresync: true });
        await q1.connect();
        const qb = await q1.mailboxOpen('INBOX');
        const saved = { uidValidity: qb.uidValidity, highestModseq: qb.highestModseq, exists: qb.exists };
        await q1.logout();

        // `a` is another connection: it expunges the first message and
        // marks the last one \Seen while q1 is away.
        const gone = all[0].uid;
        const seen = all[all.length - 1].uid;
        await a.messageDelete(String(gone), { uid: true });
        await a.messageFlagsAdd(String(seen), ['\\Seen'], { uid: true });

        const q2 = client({ qresync: true });
        const vanished = [];
        const flagUpdates = [];
        q2.on('expunge', e => vanished.push({ uid: e.uid ?? null, seq: e.seq ?? null, vanished: !!e.vanished, earlier: !!e.earlier }));
        q2.on('flags', f => flagUpdates.push({ uid: f.uid ?? null, seq: f.seq, flags: [...f.flags] }));
        await q2.connect();
        const qEnabled = [...q2.enabled];
        const rb = await q2.mailboxOpen('INBOX', { uidValidity: saved.uidValidity, changedSince: saved.highestModseq });
        step('qresync', {
            enabled: qEnabled,
            qresyncUsed: !!rb.qresync,
            before: { uidValidity: String(saved.uidValidity), highestModseq: String(saved.highestModseq), exists: saved.exists },
            after: { uidValidity: String(rb.uidValidity), highestModseq: String(rb.highestModseq), exists: rb.exists },
            expungedUid: gone,
            seenUid: seen,
            vanished,
            flagUpdates
        });
        await q2.logout();
    }

    // --- IDLE: a message delivered over SMTP wakes the idling client ---
    {
        box = await a.mailboxOpen('INBOX');
        const existsBefore = box.exists;
        let idleError = null;
        const woke = new Promise(resolve => {
            a.on('exists', e => resolve({ at: Date.now(), count: e.count, prevCount: e.prevCount }));
        });
        const idling = a.idle().catch(err => {
            idleError = String(err && err.message);
        });
        // Give the IDLE command time to reach the server before announcing.
        await new Promise(r => setTimeout(r, 300));
        const readyAt = Date.now();
        process.stdout.write(`IDLE_READY ${readyAt}\n`);
        const ev = await withTimeout(woke, 30000, 'IDLE wake-up');
        // Any command ends IDLE (imapflow sends DONE first); the new message
        // is then read back.
        let subject = null;
        let doneError = null;
        try {
            const m = await withTimeout(a.fetchOne('*', { envelope: true, uid: true }), 15000, 'FETCH after IDLE');
            subject = m && m.envelope ? m.envelope.subject : null;
        } catch (err) {
            doneError = String(err && err.message);
        }
        await withTimeout(idling, 15000, 'IDLE end');
        step('idle', {
            existsBefore,
            wokeAt: ev.at,
            readyAt,
            count: ev.count,
            prevCount: ev.prevCount,
            delayFromReadyMs: ev.at - readyAt,
            subject,
            idleError,
            doneError,
            usableAfter: a.usable
        });
    }
    await a.logout();
}

async function compress() {
    const c = client({ disableCompression: false });
    await c.connect();
    const advertised = c.capabilities.has('COMPRESS=DEFLATE');
    if (!advertised) {
        step('compress', { advertised: false });
        await c.logout();
        return;
    }
    // imapflow sends COMPRESS DEFLATE right after login when it is
    // advertised; from then on both directions go through raw DEFLATE.
    const active = !!c._deflate;
    // A message big enough to span many DEFLATE blocks and TLS records,
    // with incompressible (random) and compressible parts.
    const lines = [];
    for (let i = 0; i < 2000; i++) {
        lines.push(`line ${i} ${Math.random().toString(36).slice(2)} ${'abc'.repeat(i % 30)}`);
    }
    const raw = `From: flow@example.test\r\nTo: alice@example.test\r\nSubject: compressed append\r\n\r\n${lines.join('\r\n')}\r\n`;
    const appended = await c.append('INBOX', raw, ['\\Seen']);
    const box = await c.mailboxOpen('INBOX');
    const got = await c.fetchOne(String(appended.uid), { source: true, flags: true, envelope: true }, { uid: true });
    const subjects = [];
    for await (const m of c.fetch('1:*', { envelope: true })) {
        subjects.push(m.envelope.subject);
    }
    step('compress', {
        advertised: true,
        active,
        exists: box.exists,
        appendedUid: appended.uid,
        sentBytes: Buffer.byteLength(raw),
        fetchedBytes: got.source.length,
        identical: got.source.toString() === raw,
        flags: [...got.flags],
        subjects,
        // Bytes through the TLS socket in each direction for the whole
        // session: with DEFLATE they are far fewer than the message that
        // went up (APPEND) and came back (FETCH).
        socketWritten: c.socket ? c.socket.bytesWritten : null,
        socketRead: c.socket ? c.socket.bytesRead : null
    });
    await c.logout();
}

const mode = process.argv[2];
const run = { sync, compress }[mode];
if (!run) {
    process.stderr.write('usage: node imapflow-check.mjs sync|compress\n');
    process.exit(2);
}

run()
    .then(() => {
        process.stdout.write(JSON.stringify(out) + '\n');
        process.exit(0);
    })
    .catch(err => {
        out.error = String((err && err.stack) || err);
        if (err && err.responseText) out.responseText = err.responseText;
        process.stdout.write(JSON.stringify(out) + '\n');
        process.exit(1);
    });
