// Runs the real mailhost binary on loopback ports and talks SMTP and
// POP3 to it, for the panel tests. The browser is Debian's Chromium,
// driven by playwright-core with JavaScript off.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const BIN = process.env.MAILHOST_BIN || path.join(ROOT, 'target', 'release', 'mailhost');
export const SHOTS = path.join(ROOT, 'target', 'e2e');

export class Server {
  constructor() {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'mh-browser-'));
    this.config = path.join(this.dir, 'mailhost.toml');
    writeFileSync(this.config, `
[server]
hostname = "mx.test.example"
data_dir = "${this.dir}/data"
shutdown_grace = "2s"
[listen]
smtp = "127.0.0.1:0"
submission = ""
submissions = ""
pop3 = ""
pop3s = "127.0.0.1:0"
imap = "127.0.0.1:0"
imaps = "127.0.0.1:0"
http = ""
https = "127.0.0.1:0"
[delivery]
dns_server = "127.0.0.1:9"
[dkim]
rsa_bits = 1024
`);
    this.ports = {};
  }

  start() {
    return new Promise((resolve, reject) => {
      this.proc = spawn(BIN, ['--config', this.config, 'serve'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let buf = '';
      const timer = setTimeout(() => reject(new Error('server did not start')), 30000);
      this.proc.stdout.on('data', (d) => {
        buf += d.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          let m = line.match(/^mailhost: (\w+) listening on \S+:(\d+)/);
          if (m) this.ports[m[1]] = Number(m[2]);
          m = line.match(/^mailhost: first operator login "(\S+)", one-time password "(\S+)"/);
          if (m) this.firstOperator = { login: m[1], password: m[2] };
          if (line.startsWith('mailhost: ready')) {
            clearTimeout(timer);
            resolve(this);
          }
        }
      });
      this.proc.on('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
  }

  cli(...args) {
    return execFileSync(BIN, ['--config', this.config, ...args], { encoding: 'utf8' });
  }

  url(p) {
    return `https://127.0.0.1:${this.ports.https}${p}`;
  }

  stop() {
    if (this.proc) this.proc.kill('SIGTERM');
  }
}

/// Debian's Chromium with the flags this closed network needs.
export async function browser() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/// A fresh page with JavaScript off, in one language.
export async function page(b, locale) {
  const ctx = await b.newContext({ javaScriptEnabled: false, ignoreHTTPSErrors: true, locale,
    extraHTTPHeaders: { 'Accept-Language': locale } });
  return ctx.newPage();
}

let shot = 0;
export async function screenshot(p, name) {
  mkdirSync(SHOTS, { recursive: true });
  shot += 1;
  await p.screenshot({ path: path.join(SHOTS, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
}

/// A line-oriented client: send a line, read a reply.
async function dialog(sock, steps) {
  let buf = '';
  const replies = [];
  const wait = (done) => new Promise((resolve, reject) => {
    const check = () => {
      if (done(buf)) { sock.off('data', on); resolve(); }
    };
    const on = (d) => { buf += d.toString(); check(); };
    sock.on('data', on);
    sock.once('error', reject);
    check();
  });
  for (const [line, done] of steps) {
    buf = '';
    if (line !== null) sock.write(line + '\r\n');
    await wait(done);
    replies.push(buf);
  }
  sock.end();
  return replies;
}

const smtpDone = (b) => /(^|\r\n)\d{3} [^\r\n]*\r\n$/.test(b);
const popDone = (b) => /^(\+OK|-ERR)[^\r\n]*\r\n/.test(b);

/// Sends one message over SMTP on port 25.
export async function sendMail(port, from, to, subject, body) {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  const r = await dialog(sock, [
    [null, smtpDone], ['EHLO client.test', smtpDone], [`MAIL FROM:<${from}>`, smtpDone],
    [`RCPT TO:<${to}>`, smtpDone], ['DATA', smtpDone],
    [`From: <${from}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\nMessage-ID: <${Date.now()}@client.test>\r\n\r\n${body}\r\n.`, smtpDone],
    ['QUIT', smtpDone],
  ]);
  return r[5];
}

/// Logs in over POP3S: the reply to PASS, and STAT's when it worked.
export async function pop(port, user, password) {
  const sock = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false });
  await new Promise((r) => sock.once('secureConnect', r));
  const r = await dialog(sock, [[null, popDone], [`USER ${user}`, popDone], [`PASS ${password}`, popDone],
    ['STAT', popDone], ['QUIT', popDone]]);
  return { pass: r[2], stat: r[3] };
}

const popMultiDone = (b) => /^-ERR[^\r\n]*\r\n/.test(b) || /^\+OK[\s\S]*\r\n\.\r\n$/.test(b);

/// The texts of every message in a mailbox, over POP3S (RETR each).
export async function popAll(port, user, password) {
  const { stat } = await pop(port, user, password);
  const n = Number((stat.match(/^\+OK (\d+)/) || [0, 0])[1]);
  const sock = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false });
  await new Promise((r) => sock.once('secureConnect', r));
  const steps = [[null, popDone], [`USER ${user}`, popDone], [`PASS ${password}`, popDone]];
  for (let i = 1; i <= n; i += 1) steps.push([`RETR ${i}`, popMultiDone]);
  steps.push(['QUIT', popDone]);
  const r = await dialog(sock, steps);
  return r.slice(3, 3 + n);
}
