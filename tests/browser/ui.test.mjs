// Browser test of the web UI (docs/web.md), run by tests/sh_browser.sh
// against a jcm serve on the TH014 demo store:
//   node ui.test.mjs BASE_URL SCREENSHOT_DIR
// Environment: JCM_ADMIN_PASSWORD, JCM_ADMIN2_PASSWORD (a second
// administrator, root2), JCM_HOLDER_PASSWORD (somchai, a holder user),
// JCM_HOLDER_TOKEN (the id of an API token of somchai's),
// JCM_SECOND_ACCOUNT (an empty holding account), JCM_CHROMIUM (default
// /usr/bin/chromium).
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';

const [base, shots] = process.argv.slice(2);
const password = process.env.JCM_ADMIN_PASSWORD;
const password2 = process.env.JCM_ADMIN2_PASSWORD;
const second = process.env.JCM_SECOND_ACCOUNT;
const holderPassword = process.env.JCM_HOLDER_PASSWORD;
const holderToken = process.env.JCM_HOLDER_TOKEN;
const thai = 'THA01-100-000004-52'; // the Thai side's holding account: 1008 after the demo, 958 after the setup
const gov = 'THA01-110-000003-21'; // the Thai government holding account: 1010–1059 from the setup, four eyes
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.JCM_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
const problems = [];
// A refused command is an HTTP 422 (403 for a refused role or 8007, the proposer approving
// their own), which the browser logs: only other errors count. allowed: the statuses
// expected on that page (401 where a session is meant to end).
function watch(p, allowed) {
  p.on('console', (m) => m.type() === 'error' && !allowed.test(m.text()) && problems.push('console: ' + m.text()));
  p.on('pageerror', (e) => problems.push('page error: ' + e.message));
}
watch(page, /status of (422|403)/);

let n = 0;
async function shot(name) {
  const file = `${shots}/${String(++n).padStart(2, '0')}-${name}.png`;
  await page.screenshot({ path: file, fullPage: true });
  console.log('screenshot', file);
}
async function go(hash, p = page) {
  // the same URL again is no navigation: read the page again
  if (p.url() === base + '/' + hash) await p.reload();
  else await p.goto(base + '/' + hash);
  // this navigation's content, not the previous page's still on screen
  const route = hash.startsWith('#/') ? hash.slice(2) : '';
  await p.waitForSelector(`#main > div[data-route="${route}"]:not([aria-busy])`);
}
async function signIn(p, user, pw) {
  await go('#/login', p);
  await p.getByLabel('User name').fill(user);
  await p.getByLabel('Password').fill(pw);
  await p.getByRole('button', { name: 'Sign in' }).click();
}
const main = () => page.locator('#main');

// ---- public pages, no sign-in ----
await go('#/');
assert.equal(await page.getAttribute('html', 'lang'), 'en');
await shot('home');

await go('#/projects');
await main().getByRole('cell', { name: 'TH014', exact: true }).waitFor();
await shot('projects');

await go('#/decisions');
await main().locator('table').waitFor();
await shot('decisions');

await go('#/issuances');
const alloc = main().locator('section', { hasText: 'THA01-I-000001' }).locator('table');
// the TH014 issuance: 1009 to Japan's share (government holding), 1008 to the Thai side
const cells = async (account) => alloc.locator('tr', { hasText: account }).locator('td').allTextContents();
await alloc.waitFor();
assert.deepEqual(await cells('THA01-110-000003-21'), ['THA01-110-000003-21', '1009', '1', '1009']);
assert.deepEqual(await cells(thai), [thai, '1008', '1010', '2017']);
await shot('issuances');

await go('#/reports');
for (const r of ['public_accounts', 'units_by_type', 'tx_summary']) await page.locator('#report-' + r + ' h2').waitFor();
await shot('reports');

await go('#/head');
const hash = await main().locator('td').filter({ hasText: /^[0-9a-f]{64}$/ }).first().textContent();
assert.match(hash, /^[0-9a-f]{64}$/);
assert.equal(await page.locator('#foot-head').textContent(), hash);
await shot('journal-head');

await go('#/article6');
// the AEF download: a link per format for the year typed in; the file is what the API serves
await page.getByLabel('Reported year').fill('2025');
const csvHref = await page.locator('#aef-csv').getAttribute('href');
assert.equal(csvHref, '/api/v1/reports/aef?year=2025&format=csv');
await page.getByLabel('Reported year').fill(String(new Date().getUTCFullYear()));
const aef = await page.request.get(base + (await page.locator('#aef-csv').getAttribute('href')));
assert.equal(aef.status(), 200);
assert.match(aef.headers()['content-type'], /^text\/csv/);
assert.match(aef.headers()['content-disposition'], /^attachment; filename="aef-THA-\d{4}-v1\.csv"$/);
assert.match(await aef.text(), /^Table 1: Submission/);
await shot('article6');

// the signed-in pages ask for a sign-in
await go('#/accounts');
await main().getByRole('link', { name: 'Sign in' }).waitFor();

// ---- sign in as the administrator ----
await go('#/login');
await page.getByLabel('User name').fill('root');
await page.getByLabel('Password').fill(password);
await page.getByRole('button', { name: 'Sign in' }).click();
await page.waitForURL(/#\/accounts$/);
await main().getByRole('link', { name: second }).waitFor();
await page.locator('#who').getByText('registry administrator').waitFor();
await shot('accounts');
// the session is an HttpOnly, SameSite=Strict cookie; nothing is left in the tab's storage
const cookies = await context.cookies();
const sess = cookies.find((c) => c.name === 'jcm_session');
assert.ok(sess, 'no jcm_session cookie');
assert.equal(sess.httpOnly, true);
assert.equal(sess.sameSite, 'Strict');
assert.match(sess.value, /^jcs_[0-9a-f]{64}$/);
// a reload keeps you signed in (GET /api/v1/session gives the user and the CSRF token back)
await page.reload();
await page.waitForSelector('#main > div[data-route="accounts"]:not([aria-busy])');
await page.locator('#who').getByText('registry administrator').waitFor();
await main().getByRole('link', { name: second }).waitFor();

// the statement of the second account: empty before the transfer
await go('#/statement/' + second);
assert.equal(await page.locator('#statement-closing').textContent(), '0');

// ---- a refusal: a mistyped destination shows its code next to the field ----
await go('#/act/transfer');
await page.getByLabel(/^From/).fill(thai);
await page.getByLabel(/^To/).fill(second.slice(0, -1) + (second.endsWith('9') ? '0' : '9'));
await page.getByLabel(/^Quantity/).fill('100');
await page.getByRole('button', { name: 'Submit' }).click();
const toError = page.locator('#f-to-error');
await toError.filter({ hasText: 'check 1011' }).waitFor();
assert.match(await toError.textContent(), /check digits/);
assert.equal(await page.getAttribute('#f-to', 'aria-invalid'), 'true');
await shot('transfer-refused');

// ---- the transfer itself ----
await page.getByLabel(/^To/).fill(second);
await page.getByRole('button', { name: 'Submit' }).click();
await page.locator('#status .ok').waitFor();
assert.equal(await toError.textContent(), '');
await shot('transfer-done');

// wait for this page's figure: the previous page's element can still be on screen
await go('#/statement/' + second);
await page.locator('#statement-closing').filter({ hasText: /^100$/ }).waitFor();
assert.equal(await page.locator('#statement-closing').textContent(), '100');
await main().getByRole('cell', { name: 'THA01 1918–2017', exact: true }).waitFor(); // taken from the end
await shot('statement-after');

await go('#/statement/' + thai);
await page.locator('#statement-closing').filter({ hasText: /^858$/ }).waitFor();
assert.equal(await page.locator('#statement-closing').textContent(), '858');

// ---- four eyes: a transfer out of the government account waits for a second administrator ----
await page.getByRole('link', { name: 'Pending approval' }).waitFor(); // the nav link, for administrators
await go('#/act/transfer');
await page.getByLabel(/^From/).fill(gov);
await page.getByLabel(/^To/).fill(thai);
await page.getByLabel(/^Quantity/).fill('30');
await page.getByRole('button', { name: 'Submit' }).click();
const held = page.locator('#status .ok', { hasText: 'awaiting approval' });
await held.waitFor();
const heldTx = /THA01-T-\d{6}/.exec(await held.textContent())[0];
await shot('transfer-held');
// a second one, which the second administrator will reject
await go('#/act/transfer');
await page.getByLabel(/^From/).fill(gov);
await page.getByLabel(/^To/).fill(thai);
await page.getByLabel(/^Quantity/).fill('10');
await page.getByRole('button', { name: 'Submit' }).click();
const held2 = page.locator('#status .ok', { hasText: 'awaiting approval', hasNotText: heldTx }); // the same page: the first's status may still show
await held2.waitFor();
const heldTx2 = /THA01-T-\d{6}/.exec(await held2.textContent())[0];
assert.notEqual(heldTx2, heldTx);
await go('#/statement/' + thai); // nothing moved yet
assert.equal(await page.locator('#statement-closing').textContent(), '858');
await go('#/pending');
const heldRow = main().locator('tr', { hasText: heldTx });
await heldRow.getByRole('cell', { name: 'awaiting approval', exact: true }).waitFor();
assert.deepEqual((await heldRow.locator('td').allTextContents()).slice(0, 7),
  [heldTx, 'Transfer (within this registry)', 'root (registry administrator)', gov, thai, '30', 'THA01 1030–1059']);
// the proposer cannot approve their own: 8007 next to the row, and it keeps waiting
await page.getByRole('button', { name: 'Approve ' + heldTx }).click();
await page.locator('#pending-result-' + heldTx).filter({ hasText: 'check 8007' }).waitFor();
await heldRow.getByRole('cell', { name: 'awaiting approval', exact: true }).waitFor();
await shot('pending-own-refused');
await page.getByRole('button', { name: 'Reject ' + heldTx }).click(); // the reason field opens, nothing is sent
await page.getByLabel('Reason for rejecting ' + heldTx).waitFor();
await shot('pending');
await go('#/statement/' + thai);

// ---- the Japanese interface ----
await page.getByRole('button', { name: 'Switch to Japanese' }).click();
await page.locator('html[lang="ja"]').waitFor({ state: 'attached' }); // no eval: the CSP forbids it
await page.locator('#main h1', { hasText: '口座取引明細' }).waitFor();
await page.locator('#statement-closing').waitFor();
await main().getByText('期末残高').waitFor();
await main().getByText('保有口座').first().waitFor();
await page.getByRole('link', { name: '合同委員会の決定' }).waitFor();
await shot('statement-ja');
await go('#/act/transfer');
await page.getByLabel(/^移転元口座/).waitFor();
await page.getByLabel(/^移転先口座/).waitFor();
await shot('transfer-ja');
await go('#/issuances');
await page.locator('#main h1', { hasText: '発行及び割当' }).waitFor();
await shot('issuances-ja');
await page.getByRole('link', { name: '承認待ちの取引' }).click();
await page.waitForSelector('#main > div[data-route="pending"]:not([aria-busy])');
await page.locator('#main h1', { hasText: '承認待ちの取引' }).waitFor();
await heldRow.getByRole('cell', { name: '承認待ち', exact: true }).waitFor();
await page.getByRole('button', { name: heldTx + ' を承認' }).waitFor();
await shot('pending-ja');
// the choice survives a reload
await page.reload();
await page.locator('html[lang="ja"]').waitFor({ state: 'attached' }); // no eval: the CSP forbids it
await page.getByRole('button', { name: '英語に切り替える' }).click();
await page.locator('html[lang="en"]').waitFor({ state: 'attached' });

// ---- sign out: the session ends on the server and the cookie goes ----
await page.getByRole('button', { name: 'Sign out' }).click();
await page.locator('#signin').waitFor();
assert.equal(await page.locator('#who').textContent(), '');
assert.equal((await context.cookies()).some((c) => c.name === 'jcm_session'), false);
await go('#/accounts');
await main().getByRole('link', { name: 'Sign in' }).waitFor();
await page.reload();
await page.waitForSelector('#main > div[data-route="accounts"]:not([aria-busy])');
await main().getByRole('link', { name: 'Sign in' }).waitFor();
await shot('signed-out');
await go('#/pending');
await main().getByRole('link', { name: 'Sign in' }).waitFor();
assert.equal(await page.getByRole('link', { name: 'Pending approval' }).count(), 0); // no nav link signed out

// ---- the second administrator approves ----
await signIn(page, 'root2', password2);
await page.waitForURL(/#\/accounts$/);
await page.locator('#who').getByText('root2').waitFor();
await page.getByRole('link', { name: 'Pending approval' }).click();
await page.waitForSelector('#main > div[data-route="pending"]:not([aria-busy])');
await page.getByRole('button', { name: 'Approve ' + heldTx }).click();
await page.locator('#pending-result-' + heldTx).filter({ hasText: /^Done — completed/ }).waitFor();
await heldRow.getByRole('cell', { name: 'completed', exact: true }).waitFor();
assert.equal(await page.getByRole('button', { name: 'Approve ' + heldTx }).count(), 0);
await shot('pending-approved');
await go('#/statement/' + thai);
await page.locator('#statement-closing').filter({ hasText: /^888$/ }).waitFor();
await main().getByRole('cell', { name: 'THA01 1030–1059', exact: true }).waitFor();
await shot('statement-approved');

// ---- the second administrator rejects the other: nothing moves, it shows terminated ----
await go('#/pending');
const rejRow = main().locator('tr', { hasText: heldTx2 });
await rejRow.getByRole('cell', { name: 'awaiting approval', exact: true }).waitFor();
await page.getByRole('button', { name: 'Reject ' + heldTx2 }).click();
await page.getByLabel('Reason for rejecting ' + heldTx2).fill('not agreed with the Party');
await page.getByRole('button', { name: 'Confirm rejection of ' + heldTx2 }).click();
await page.locator('#pending-result-' + heldTx2).filter({ hasText: /^Done — terminated/ }).waitFor();
await rejRow.getByRole('cell', { name: 'terminated', exact: true }).waitFor();
assert.equal(await page.getByRole('button', { name: 'Approve ' + heldTx2 }).count(), 0);
await shot('pending-rejected');
await page.reload(); // read again: decided, by whom and why
await page.waitForSelector('#main > div[data-route="pending"]:not([aria-busy])');
await rejRow.getByRole('cell', { name: 'terminated', exact: true }).waitFor();
await rejRow.getByText('decided by root2: not agreed with the Party').waitFor();
await go('#/statement/' + thai);
await page.locator('#statement-closing').filter({ hasText: /^888$/ }).waitFor();
assert.equal(await main().getByRole('cell', { name: 'THA01 1020–1029', exact: true }).count(), 0);

// ---- users: somchai signs in elsewhere; root2 disables, enables, revokes, sets a password ----
const context2 = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page2 = await context2.newPage();
watch(page2, /status of (401|403|422)/); // its sessions are meant to end
const main2 = () => page2.locator('#main');
await signIn(page2, 'somchai', holderPassword);
await page2.waitForURL(/#\/accounts$/);
await page2.locator('#who').getByText('somchai').waitFor();
assert.equal(await page2.getByRole('link', { name: 'Users' }).count(), 0); // administrators and auditors only

await page.getByRole('link', { name: 'Users' }).click();
await page.waitForSelector('#main > div[data-route="users"]:not([aria-busy])');
const somRow = main().locator('#users tr', { hasText: 'somchai' });
await somRow.getByRole('cell', { name: 'enabled', exact: true }).waitFor();
await main().locator('#tokens tr', { hasText: holderToken }).waitFor();
await shot('users');
await page.getByRole('button', { name: 'Disable somchai' }).click();
await somRow.getByRole('cell', { name: 'disabled', exact: true }).waitFor();
await page.getByRole('button', { name: 'Enable somchai' }).waitFor();
// somchai's session stopped at once, and signing in is refused as a wrong password is
await go('#/accounts', page2);
await main2().getByRole('link', { name: 'Sign in' }).waitFor();
await signIn(page2, 'somchai', holderPassword);
await page2.locator('#login-error').filter({ hasText: 'check 8005' }).waitFor();
await page.getByRole('button', { name: 'Enable somchai' }).click();
await somRow.getByRole('cell', { name: 'enabled', exact: true }).waitFor();
await page.getByRole('button', { name: 'Revoke token ' + holderToken }).click();
await main().locator('#tokens tr', { hasText: holderToken }).getByText('revoked', { exact: true }).waitFor();
assert.equal(await page.getByRole('button', { name: 'Revoke token ' + holderToken }).count(), 0);
await shot('users-revoked');

// ---- somchai changes its own password: the current one is needed ----
await signIn(page2, 'somchai', holderPassword);
await page2.waitForURL(/#\/accounts$/);
await page2.getByRole('link', { name: 'Your account' }).click();
await page2.waitForSelector('#main > div[data-route="account"]:not([aria-busy])');
const newPw = holderPassword + ' new';
await page2.getByLabel('Current password').fill('not the password');
await page2.getByLabel('New password (12 characters or more)').fill(newPw);
await page2.getByLabel('New password again').fill(newPw);
await page2.getByRole('button', { name: 'Change password' }).click();
await page2.locator('#pw-current-error').filter({ hasText: 'check 8009' }).waitFor();
assert.equal(await page2.getAttribute('#pw-current', 'aria-invalid'), 'true');
await page2.getByLabel('Current password').fill(holderPassword);
await page2.getByLabel('New password (12 characters or more)').fill(newPw);
await page2.getByLabel('New password again').fill(newPw);
await page2.getByRole('button', { name: 'Change password' }).click();
await page2.locator('#status .ok', { hasText: 'Your password was changed' }).waitFor();
await page2.screenshot({ path: `${shots}/${String(++n).padStart(2, '0')}-password-changed.png`, fullPage: true });
await go('#/accounts', page2); // the session that changed it goes on
await page2.locator('#who').getByText('somchai').waitFor();
await main2().locator('table').waitFor();

// ---- an administrator sets somchai's password: somchai's session ends ----
await go('#/users');
await page.getByRole('button', { name: 'Set a password for somchai' }).click();
await page.getByLabel('New password for somchai').fill(holderPassword + ' by root2');
await page.getByRole('button', { name: 'Set the password of somchai' }).click();
await somRow.locator('.row-result.ok').waitFor();
await go('#/accounts', page2);
await main2().getByRole('link', { name: 'Sign in' }).waitFor();
await signIn(page2, 'somchai', holderPassword + ' by root2');
await page2.waitForURL(/#\/accounts$/);

// ---- an administrator changes somchai's role: a holder needs its organisation; the session ends ----
await go('#/users');
const somOrg = (await somRow.locator('td').nth(2).innerText()).trim();
assert.ok(somOrg, 'somchai is a holder with an organisation');
await page.getByRole('button', { name: 'Change the role of somchai' }).click();
await page.getByLabel('New role of somchai').selectOption('auditor');
await page.getByRole('button', { name: 'Set the role of somchai' }).click();
await somRow.getByRole('cell', { name: 'auditor', exact: true }).waitFor();
await go('#/accounts', page2);
await main2().getByRole('link', { name: 'Sign in' }).waitFor();
await page.getByRole('button', { name: 'Change the role of somchai' }).click();
await page.getByLabel('New role of somchai').selectOption('holder');
await page.locator('#user-org-somchai').fill('');
await page.getByRole('button', { name: 'Set the role of somchai' }).click();
await somRow.locator('.row-result.bad', { hasText: 'check 1002' }).waitFor();
await page.locator('#user-org-somchai').fill(somOrg);
await page.getByRole('button', { name: 'Set the role of somchai' }).click();
await somRow.getByRole('cell', { name: 'holder', exact: true }).waitFor();
await shot('users-role');
await context2.close();

await browser.close();
assert.deepEqual(problems, []);
console.log('browser test: ok');
