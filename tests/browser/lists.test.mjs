// Mailing lists in the panels (issue 15, R-LIST-1..6), in a real browser
// with JavaScript off: the domain admin creates a list and invites; the
// invitee confirms on the web page its mail links to; the owner (a
// mailbox user, in Japanese) makes the list moderated, approves a held
// post, records an erasure request and downloads the consent ledger;
// another mailbox user is refused; the admin deletes the list. Effects
// are checked through SMTP and POP3. Screenshots under target/e2e/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, browser, page, screenshot, sendMail, pop, popAll } from './harness.mjs';

const LIST = 'club@example.test';
let s;
let b;

before(async () => {
  s = await new Server().start();
  s.cli('domain', 'add', 'example.test', '--contact', 'boss@example.test');
  for (const u of ['alice', 'bob', 'gina']) s.cli('user', 'add', `${u}@example.test`, '--password', 'secret-pw-1');
  s.cli('admin', 'add', 'tech', '--domain', 'example.test', '--password', 'tech-pw-123');
  b = await browser();
});

after(async () => {
  await b?.close();
  s?.stop();
});

async function signIn(p, login, password) {
  await p.goto(s.url('/login'));
  await p.getByLabel(/Login name|ログイン名/).fill(login);
  await p.getByLabel(/^(Password|パスワード)$/).fill(password);
  await p.getByRole('button', { name: /Sign in|ログイン/ }).click();
}

async function waitFor(fn, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const count = async (user) => Number((await pop(s.ports.pop3s, user, 'secret-pw-1')).stat.split(' ')[1]);

test('a list from creation to deletion through the panels', async () => {
  // The domain admin creates the list, owned by alice, and invites two.
  const admin = await page(b, 'en-US');
  await signIn(admin, 'tech', 'tech-pw-123');
  assert.ok(await admin.getByRole('heading', { name: 'Mailing lists' }).isVisible());
  assert.ok(await admin.getByText('No mailing lists.').isVisible());
  // An owner outside the domain is refused next to its field.
  await admin.getByLabel('List address').fill('club');
  await admin.getByLabel('Owner').fill('someone@other.test');
  await admin.getByRole('button', { name: 'Create a list' }).click();
  assert.ok(await admin.locator('#list-owner ~ p.err, #owner-hint ~ p.err').first().isVisible());
  await admin.getByLabel('List address').fill('club');
  await admin.getByLabel('Owner').fill('alice');
  await admin.getByLabel('Name', { exact: true }).fill('Chess Club');
  await admin.getByRole('button', { name: 'Create a list' }).click();
  assert.match(admin.url(), /\/l\/club@example\.test\?ok=1$/);
  assert.ok(await admin.getByRole('heading', { name: LIST }).isVisible());
  await admin.getByLabel('Address').fill('bob@example.test\ngina@example.test\nnot-an-address');
  await admin.getByRole('button', { name: 'Invite' }).click();
  const rows = admin.locator('table:has(caption) tbody tr');
  assert.equal(await rows.count(), 3);
  assert.equal(await rows.nth(0).locator('td').nth(1).innerText(), 'invited');
  assert.equal(await rows.nth(2).locator('td').nth(1).innerText(), 'refused');
  await screenshot(admin, 'list-invited-en');
  // Invited is not a member (R-LIST-2).
  assert.equal(await admin.locator('#member-count').innerText(), '0');

  // Bob confirms on the page his confirmation links to (GET shows, POST acts).
  const mails = await waitFor(async () => (await popAll(s.ports.pop3s, 'bob@example.test', 'secret-pw-1'))
    .filter((m) => m.includes('Confirm your subscription')));
  assert.equal(mails.length, 1);
  const link = mails[0].replace(/=\r\n/g, '').replace(/=3D/g, '=').match(/https?:\/\/[^\s]+\/lists\/confirm\?t=([a-z2-7]+)/);
  assert.ok(link, 'the confirmation links to the web page');
  const web = await page(b, 'en-US');
  await web.goto(s.url(`/lists/confirm?t=${link[1]}`));
  await screenshot(web, 'list-confirm-page');
  await web.locator('form[method="post"] button').click();
  assert.match(await web.locator('main').innerText(), /bob@example\.test/);
  await web.context().close();

  // The owner, in Japanese: the list is on the panel; it becomes moderated.
  const owner = await page(b, 'ja-JP');
  await signIn(owner, 'alice@example.test', 'secret-pw-1');
  assert.ok(await owner.getByRole('heading', { name: 'あなたのメーリングリスト' }).isVisible());
  await owner.getByRole('row', { name: /club@example\.test/ }).getByRole('link', { name: '管理' }).click();
  assert.equal(await owner.locator('#member-count').innerText(), '1');
  await owner.getByLabel('投稿できる人').selectOption('moderated');
  await owner.locator('form[action$="/posting"] button').click();
  assert.ok(await owner.getByText('保存しました。').isVisible());
  assert.equal(await owner.getByLabel('投稿できる人').inputValue(), 'moderated');

  // Bob posts; the post waits for the owner's approval.
  const before = await count('bob@example.test');
  assert.match(await sendMail(s.ports.smtp, 'bob@example.test', LIST, 'Tuesday meeting', 'See you there.'), /^250 /m);
  await owner.reload();
  assert.ok(await owner.getByRole('cell', { name: 'Tuesday meeting', exact: true }).isVisible());
  await screenshot(owner, 'list-held-ja');
  await owner.getByRole('button', { name: '承認: Tuesday meeting' }).click();
  assert.match(await owner.locator('#said').innerText(), /approved/);
  assert.ok(await owner.getByText('承認待ちの投稿はありません。').isVisible());
  assert.equal(await waitFor(async () => (await count('bob@example.test')) === before + 1), true, 'the approved post reached the member');

  // An erasure request: recorded, and the address suppressed.
  await owner.getByRole('button', { name: '削除の依頼: bob@example.test' }).click();
  await owner.getByLabel('状態').selectOption('suppressed');
  await owner.getByRole('button', { name: '表示' }).click();
  assert.ok(await owner.getByRole('cell', { name: 'bob@example.test', exact: true }).isVisible());
  await screenshot(owner, 'list-members-ja');
  // Only the domain's admin deletes a list.
  assert.equal(await owner.getByRole('button', { name: 'リストを削除' }).count(), 0);
  // The consent ledger, as the CSV the page offers.
  const csv = await (await owner.context().request.get(s.url(`/l/${LIST}/consent.csv`))).text();
  const lines = csv.trim().split(/\r?\n/);
  assert.equal(lines[0], 'id,list,address,event,time,time_utc,ip,method,message_id,token_sha256,user_agent,detail');
  const bobEvents = lines.filter((l) => l.includes(',bob@example.test,')).map((l) => l.split(',')[3]);
  assert.deepEqual(bobEvents, ['invited', 'confirmed', 'erasure-requested', 'suppressed']);
  assert.ok(lines.some((l) => l.includes(',confirmed,') && l.includes(',web,')), 'confirmed on the web');
  await owner.context().close();

  // Another mailbox user sees nothing of the list.
  const gina = await page(b, 'en-US');
  await signIn(gina, 'gina@example.test', 'secret-pw-1');
  assert.equal(await gina.getByRole('heading', { name: 'Your mailing lists' }).count(), 0);
  assert.equal((await gina.goto(s.url(`/l/${LIST}`))).status(), 403);
  assert.equal((await gina.context().request.get(s.url(`/l/${LIST}/consent.csv`))).status(), 403);
  await gina.context().close();

  // The admin deletes the list; the domain page no longer shows it.
  await admin.goto(s.url(`/l/${LIST}`));
  await admin.getByLabel('Yes, delete this list').check();
  await admin.getByRole('button', { name: 'Delete the list' }).click();
  assert.match(admin.url(), /\/d\/example\.test\?ok=1$/);
  assert.ok(await admin.getByText('No mailing lists.').isVisible());
  await admin.context().close();
});
