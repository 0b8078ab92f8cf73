// The panels in a real browser (issue 12): each role signs in over TLS
// with JavaScript off, does its main tasks in English and in Japanese,
// and the effect is checked through SMTP and POP3. Every page visited is
// kept as a screenshot under target/e2e/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { createHmac } from 'node:crypto';
import { Server, browser, page, screenshot, sendMail, pop } from './harness.mjs';

let s;
let b;

before(async () => {
  s = await new Server().start();
  s.cli('domain', 'add', 'example.test', '--contact', 'boss@example.test');
  s.cli('domain', 'add', 'other.test', '--contact', 'boss@other.test');
  for (const u of ['alice', 'bob', 'gina']) s.cli('user', 'add', `${u}@example.test`, '--password', 'secret-pw-1');
  s.cli('user', 'add', 'eve@other.test', '--password', 'secret-pw-1');
  s.cli('admin', 'add', 'tech', '--domain', 'example.test', '--password', 'tech-pw-123');
  b = await browser();
});

after(async () => {
  await b?.close();
  s?.stop();
});

test('Debian Chromium is the major playwright-core 1.64.1 was built for', () => {
  const pkg = JSON.parse(readFileSync(new URL('./node_modules/playwright-core/package.json', import.meta.url)));
  assert.equal(pkg.version, '1.64.1');
  const out = execFileSync('/usr/bin/chromium', ['--version'], { encoding: 'utf8' });
  const major = Number(out.match(/Chromium (\d+)\./)[1]);
  assert.equal(major, 156, `playwright-core 1.64.1 drives Chromium 156; Debian has ${out.trim()}`);
  assert.equal(b.version().split('.')[0], '156');
});

async function signIn(p, login, password) {
  await p.goto(s.url('/login'));
  await p.getByLabel(/Login name|ログイン名/).fill(login);
  await p.getByLabel(/^(Password|パスワード)$/).fill(password);
  await p.getByRole('button', { name: /Sign in|ログイン/ }).click();
}

test('a mailbox user sets forwarding and an autoreply in English; mail is forwarded', async () => {
  const p = await page(b, 'en-US');
  await signIn(p, 'alice%example.test', 'secret-pw-1');
  assert.match(p.url(), /\/me$/);
  await screenshot(p, 'user-panel-en');
  assert.ok(await p.getByRole('heading', { name: 'Forwarding' }).isVisible());
  await p.getByLabel('Forward to (one address per line)').fill('bob@example.test');
  await p.getByLabel('Keep a copy in this mailbox too').check();
  await p.locator('form[action="/me/forward"] button').click();
  assert.ok(await p.getByText('Saved.').isVisible());
  // Stored text is shown as text, never as markup.
  await p.getByLabel('Subject').fill('<script>alert(1)</script>');
  await p.getByLabel('Message').fill('Away until Monday.');
  await p.locator('form[action="/me/autoreply"] button').click();
  assert.equal(await p.getByLabel('Subject').inputValue(), '<script>alert(1)</script>');
  assert.ok(!(await p.content()).includes('<script>alert(1)</script>'));
  await screenshot(p, 'user-panel-saved');
  // A destination the rules refuse: the error is next to the field.
  await p.getByLabel('Forward to (one address per line)').fill('alice@example.test');
  await p.locator('form[action="/me/forward"] button').click();
  assert.ok(await p.locator('#destinations ~ p.err').isVisible());
  await screenshot(p, 'user-panel-error');

  const before = await pop(s.ports.pop3s, 'bob@example.test', 'secret-pw-1');
  const reply = await sendMail(s.ports.smtp, 'sender@outside.test', 'alice@example.test', 'hello', 'Forward me.');
  assert.match(reply, /^250 /m);
  const n = (r) => Number(r.stat.split(' ')[1]);
  const afterBob = await pop(s.ports.pop3s, 'bob@example.test', 'secret-pw-1');
  assert.equal(n(afterBob), n(before) + 1, 'forwarded to bob');
  const alice = await pop(s.ports.pop3s, 'alice@example.test', 'secret-pw-1');
  assert.ok(n(alice) >= 1, 'and a copy kept');
  await p.context().close();
});

test('a domain admin manages mailboxes in Japanese; a suspended mailbox cannot use POP3', async () => {
  const p = await page(b, 'ja-JP');
  await signIn(p, 'tech', 'tech-pw-123');
  assert.match(p.url(), /\/d\/example\.test$/);
  assert.equal(await p.getAttribute('html', 'lang'), 'ja');
  assert.ok(await p.getByRole('heading', { name: 'メールアドレス' }).isVisible());
  await screenshot(p, 'domain-panel-ja');
  await p.getByLabel('アドレス', { exact: true }).first().fill('carol');
  await p.getByLabel('パスワード', { exact: true }).fill('carol-pw-123');
  await p.getByRole('button', { name: '追加' }).first().click();
  assert.ok(await p.getByText('保存しました。').isVisible());
  assert.ok(await p.getByRole('cell', { name: 'carol@example.test' }).isVisible());
  assert.match((await pop(s.ports.pop3s, 'carol@example.test', 'carol-pw-123')).pass, /^\+OK/);
  await p.goto(s.url('/u/carol@example.test'));
  await screenshot(p, 'mailbox-ja');
  await p.getByRole('button', { name: '停止' }).click();
  assert.ok(await p.getByText('停止中').isVisible());
  assert.match((await pop(s.ports.pop3s, 'carol@example.test', 'carol-pw-123')).pass, /^-ERR/);
  // CSV import: a dry run shows what would change, then the real one.
  await p.goto(s.url('/d/example.test'));
  await p.locator('#csv').fill('dora,dora-pw-123\nalice,x-pw-1234\n');
  await p.getByRole('button', { name: '登録', exact: true }).click();
  assert.ok(await p.getByText('何も変更していません').isVisible());
  assert.ok(await p.getByRole('cell', { name: 'exists' }).isVisible());
  await screenshot(p, 'import-dry-run-ja');
  await p.locator('#csv').fill('dora,dora-pw-123\n');
  await p.getByLabel('変更せずに結果だけを表示する').uncheck();
  await p.getByRole('button', { name: '登録', exact: true }).click();
  assert.ok(await p.getByText('登録しました').isVisible());
  assert.match((await pop(s.ports.pop3s, 'dora@example.test', 'dora-pw-123')).pass, /^\+OK/);
  // The live DNS check: this test's DNS server (port 9) never answers.
  await p.goto(s.url('/d/example.test'));
  await p.getByRole('link', { name: 'DNSの現在の状態を確認' }).click();
  assert.ok(await p.getByRole('heading', { name: /DNSの現在の状態/ }).isVisible());
  assert.equal(await p.getByRole('cell', { name: 'DNSから応答なし' }).count(), 4);
  await screenshot(p, 'dns-check-ja');
  // Another tenant's mailbox is out of reach.
  const r = await p.goto(s.url('/u/eve@other.test'));
  assert.equal(r.status(), 403);
  const r2 = await p.goto(s.url('/d/other.test'));
  assert.equal(r2.status(), 403);
  // Back to English, remembered by the cookie.
  await p.goto(s.url('/d/example.test'));
  await p.getByRole('link', { name: 'English' }).click();
  assert.equal(await p.getAttribute('html', 'lang'), 'en');
  await p.goto(s.url('/d/example.test'));
  assert.ok(await p.getByRole('heading', { name: 'Mail addresses' }).isVisible());
  await screenshot(p, 'domain-panel-en');
  await p.context().close();
});

test('the first operator changes its one-time password, then publishes a notice every panel shows', async () => {
  const op = s.firstOperator;
  assert.ok(op, 'the first serve printed a one-time operator password');
  const p = await page(b, 'en-US');
  await signIn(p, op.login, op.password);
  assert.match(p.url(), /\/password$/);
  await screenshot(p, 'one-time-password');
  // Nothing else is reachable until it is changed.
  await p.goto(s.url('/ops'));
  assert.match(p.url(), /\/password$/);
  await p.getByLabel('Current password').fill(op.password);
  await p.getByLabel('New password').fill('operator-pw-2026');
  await p.getByRole('button', { name: 'Save' }).click();
  assert.match(p.url(), /\/login$/);
  await signIn(p, op.login, 'operator-pw-2026');
  assert.match(p.url(), /\/ops$/);
  await p.getByLabel('Title').fill('Policy amendment 2027');
  await p.locator('#nbody').fill('Lists over 250 members go out off-peak.');
  await p.getByRole('button', { name: 'Publish' }).click();
  assert.ok(await p.getByText('Saved.').isVisible());
  await screenshot(p, 'operator-console');
  await p.context().close();

  const u = await page(b, 'ja-JP');
  await signIn(u, 'bob@example.test', 'secret-pw-1');
  assert.ok(await u.getByRole('heading', { name: 'Policy amendment 2027' }).isVisible());
  await screenshot(u, 'user-panel-ja-notice');
  await u.context().close();
});

test('a wrong password is refused, and a form from another site is refused', async () => {
  const p = await page(b, 'en-US');
  await signIn(p, 'alice@example.test', 'not-the-password');
  assert.ok(await p.getByRole('alert').isVisible());
  assert.match(p.url(), /\/login$/);
  await screenshot(p, 'login-refused');
  await p.context().close();
  const status = await new Promise((resolve, reject) => {
    const body = 'login=alice%40example.test&password=secret-pw-1';
    const req = https.request(s.url('/login'), {
      method: 'POST', rejectUnauthorized: false,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': body.length,
        Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' },
    }, (res) => { res.resume(); resolve([res.statusCode, res.headers['set-cookie']]); });
    req.on('error', reject);
    req.end(body);
  });
  assert.equal(status[0], 403);
  assert.equal(status[1], undefined, 'no session');
});

/// RFC 6238 TOTP (SHA-1, 6 digits, 30 s) from a base32 key: written here
/// from the RFC, not taken from the server, so the two check each other.
function totp(key, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of key.replace(/[\s=]/g, '').toUpperCase()) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  const bytes = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const h = createHmac('sha1', bytes).update(msg).digest();
  const o = h[h.length - 1] & 0xf;
  const n = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(n % 1000000).padStart(6, '0');
}

test('a mailbox user turns on two-step sign-in in Japanese; mail apps then need an app password', async () => {
  const p = await page(b, 'ja-JP');
  await signIn(p, 'gina@example.test', 'secret-pw-1');
  assert.match(p.url(), /\/me$/);
  await p.getByRole('link', { name: 'セキュリティ' }).click();
  assert.ok(await p.getByText('2段階認証はオフです').isVisible());
  await p.getByRole('button', { name: 'オンにする' }).click();
  assert.ok(await p.locator('.qr svg').isVisible(), 'the QR code is shown');
  await screenshot(p, 'totp-setup-ja');
  const key = await p.locator('code.key').textContent();
  // A wrong code: the error is next to the field, in Japanese.
  await p.getByLabel('コード', { exact: true }).fill('000000');
  await p.getByRole('button', { name: '確認' }).click();
  assert.ok(await p.locator('#code ~ p.err').isVisible());
  await p.getByLabel('コード', { exact: true }).fill(totp(key));
  await p.getByRole('button', { name: '確認' }).click();
  assert.ok(await p.getByText('2段階認証はオンです。').isVisible());
  const codes = (await p.locator('pre.codes').textContent()).trim().split(/\s+/);
  assert.equal(codes.length, 10);
  await screenshot(p, 'totp-recovery-codes-ja');

  // The mailbox password no longer opens POP3; an app password does.
  const refused = await pop(s.ports.pop3s, 'gina@example.test', 'secret-pw-1');
  assert.match(refused.pass, /^-ERR \[AUTH\].*app password/);
  await p.goto(s.url('/account'));
  await p.getByLabel('名前', { exact: true }).fill('スマートフォン');
  await p.getByLabel('SMTP').uncheck();
  await p.getByRole('button', { name: 'アプリパスワードを作る' }).click();
  const secret = (await p.locator('code.key').textContent()).trim();
  assert.match(secret, /^[a-z2-7]{4}(-[a-z2-7]{4}){4}$/);
  await screenshot(p, 'app-password-ja');
  assert.match((await pop(s.ports.pop3s, 'gina@example.test', secret)).pass, /^\+OK/);
  await p.goto(s.url('/me'));
  assert.ok(await p.getByRole('cell', { name: 'pop3' }).first().isVisible(), 'the POP3 login is listed');

  // Signing in again takes the second step; a recovery code works once.
  await p.getByRole('button', { name: 'ログアウト' }).click();
  await signIn(p, 'gina@example.test', 'secret-pw-1');
  assert.match(p.url(), /\/login\/code$/);
  const half = await p.goto(s.url('/me'));
  assert.match(half.url(), /\/login\/code$/, 'nothing else before the second step');
  await screenshot(p, 'second-step-ja');
  await p.getByLabel('コード', { exact: true }).fill(codes[0]);
  await p.getByRole('button', { name: 'ログイン' }).click();
  assert.match(p.url(), /\/me$/);
  await p.goto(s.url('/account'));
  await p.getByRole('button', { name: '取り消す' }).click();
  assert.match((await pop(s.ports.pop3s, 'gina@example.test', secret)).pass, /^-ERR/);
  await p.getByRole('button', { name: 'ログアウト' }).click();
  await signIn(p, 'gina@example.test', 'secret-pw-1');
  await p.getByLabel('コード', { exact: true }).fill(codes[0]);
  await p.getByRole('button', { name: 'ログイン' }).click();
  assert.match(p.url(), /\/login\/code$/, 'a used recovery code is refused');
  await p.context().close();
});

test('the operator searches the evidence log, manages admin logins, packages and suspensions, in English', async () => {
  s.cli('admin', 'add', 'root2', '--operator', '--password', 'root2-pw-123');
  s.cli('user', 'add', 'hank@example.test', '--password', 'secret-pw-1');
  s.cli('user', 'suspend', 'hank@example.test');
  // A relay attempt on port 25 is refused and logged (R-IN-1).
  await sendMail(s.ports.smtp, 'spammer@outside.test', 'victim@elsewhere.test', 'relay', 'x');
  const p = await page(b, 'en-US');
  await signIn(p, 'root2', 'root2-pw-123');
  await p.getByRole('link', { name: 'Evidence log' }).click();
  await p.getByLabel('Rule').fill('r-in-1');
  await p.getByRole('button', { name: 'Search' }).click();
  assert.match(p.url(), /rule=r-in-1/);
  assert.ok(await p.getByRole('cell', { name: 'R-IN-1', exact: true }).first().isVisible());
  await screenshot(p, 'evidence-search');
  await p.getByLabel('From (date)').fill('2000-01-01');
  await p.getByLabel('Until (date)').fill('2000-01-02');
  await p.getByRole('button', { name: 'Search' }).click();
  assert.ok(await p.getByText('Nothing found.').isVisible());

  await p.getByRole('link', { name: 'Suspended addresses' }).click();
  assert.ok(await p.getByRole('cell', { name: 'hank@example.test' }).isVisible());
  await p.getByRole('row', { name: /hank@example.test/ }).getByRole('button', { name: 'Resume' }).click();
  assert.match((await pop(s.ports.pop3s, 'hank@example.test', 'secret-pw-1')).pass, /^\+OK/);

  await p.goto(s.url('/ops/admins'));
  await p.getByLabel('Login name').fill('newtech');
  await p.getByLabel('Domains', { exact: true }).fill('example.test');
  await p.getByRole('button', { name: 'Add', exact: true }).click();
  const oneTime = (await p.locator('p.ok code.key').textContent()).trim();
  assert.ok(oneTime.length >= 12);
  assert.ok(await p.getByRole('cell', { name: 'newtech' }).isVisible());
  await screenshot(p, 'admin-logins');

  await p.goto(s.url('/ops/packages'));
  await p.getByLabel('Name').fill('gold');
  await p.getByLabel('Messages per hour').fill('many');
  await p.getByRole('button', { name: 'Save' }).click();
  assert.ok(await p.locator('#hourly_limit ~ p.err').isVisible());
  await p.getByLabel('Messages per hour').fill('500');
  await p.getByLabel('Mailbox use').fill('2GB');
  await p.getByRole('button', { name: 'Save' }).click();
  assert.ok(await p.getByRole('cell', { name: 'gold' }).isVisible());
  assert.ok(await p.getByRole('cell', { name: '500', exact: true }).isVisible());
  await screenshot(p, 'packages');

  // Every action above is in the audit log, searchable by who did it.
  await p.goto(s.url('/ops/audit?actor=root2'));
  for (const a of ['user.resume', 'admin.add', 'package.set']) {
    assert.ok(await p.getByRole('cell', { name: a, exact: true }).first().isVisible(), a);
  }
  await screenshot(p, 'audit-search');
  await p.goto(s.url('/notices'));
  assert.match(await p.title(), /^All notices/);
  assert.ok(await p.getByRole('heading', { name: 'Policy amendment 2027' }).isVisible());
  // A page that does not exist is a page, not JSON.
  const r = await p.goto(s.url('/no/such/page'));
  assert.equal(r.status(), 404);
  assert.ok(await p.getByRole('heading', { name: 'Page not found' }).isVisible());
  await p.context().close();
});
