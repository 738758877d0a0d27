// The web UI of jcm serve (docs/web.md): a small single-page app with hash
// routes over the JSON API (/api/v1). No framework and no build step. Every
// value from the server reaches the page through textContent or an
// attribute, never as HTML. Command forms are generated from the server's
// OpenAPI document (fields, types, enums, roles), which the server builds
// from the library's own command table, so the UI cannot drift from it.
import { t, tv, lang, setLang } from './i18n.js';

// The session lives in an HttpOnly cookie the page cannot read; what the page
// keeps (in memory only) is who is signed in and the session's anti-CSRF
// token, sent as X-CSRF-Token with every change. After a reload both come
// back from GET /api/v1/session.
const state = { session: null, api: null };
const MAIN_COMMANDS = ['transfer', 'cancel', 'retire', 'xfer.propose', 'account.open', 'decide', 'issue', 'authorize', 'use'];
// security.event is the server's; the lifecycle of users has pages of its own (#/account, #/users)
const HIDDEN_COMMANDS = ['security.event', 'link.receive', 'init', 'user.password', 'user.disable', 'user.enable', 'user.role', 'token.revoke'];

// ---- small helpers ----

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function cap(s) {
  return lang() === 'en' && s ? s[0].toUpperCase() + s.slice(1) : s;
}

function announce(text, kind) {
  const s = document.getElementById('status');
  s.replaceChildren(el('p', { class: kind || '' }, text));
}

async function api(method, path, body) {
  const headers = {};
  if (state.session && method !== 'GET') headers['X-CSRF-Token'] = state.session.csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    return { ok: false, status: 0, data: { error: { code: 0, message: String(e), field: '' } } };
  }
  let data = null;
  try {
    data = await res.json();
  } catch (e) {
    data = { error: { code: 0, message: res.statusText, field: '' } };
  }
  if (res.status === 401 && state.session) forget(false);
  return { ok: res.ok, status: res.status, data };
}

function query(name, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return api('GET', '/api/v1/queries/' + encodeURIComponent(name) + (s ? '?' + s : ''));
}

function errorText(err) {
  const e = (err && err.error) || {};
  return t('form.code', { code: e.code ?? '?' }) + ': ' + (e.message || '');
}

// ---- rendering rows ----

function cell(key, v) {
  if (v === null || v === undefined) return '';
  if (key === 'ranges' && Array.isArray(v))
    return v.map((r) => (r.origin ? r.origin + ' ' : '') + r.first + '–' + r.last).join(', ');
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : tv(x))).join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  if (['type', 'status', 'kind', 'role', 'subtype'].includes(key)) return tv(v);
  return v;
}

// A table of rows; columns: the keys of the first row unless given;
// link(key, row) may return an href for a cell.
function table(rows, caption, columns, link) {
  if (!rows || rows.length === 0) return el('p', { class: 'note' }, t('empty'));
  const cols = columns || Object.keys(rows[0]);
  return el(
    'table',
    {},
    caption ? el('caption', {}, caption) : null,
    el('thead', {}, el('tr', {}, cols.map((c) => el('th', { scope: 'col' }, cap(t('col.' + c)))))),
    el(
      'tbody',
      {},
      rows.map((r) =>
        el(
          'tr',
          {},
          cols.map((c) => {
            const v = cell(c, r[c]);
            const href = link && link(c, r);
            return el('td', { class: typeof r[c] === 'number' ? 'num' : null }, href ? el('a', { href }, v) : v);
          }),
        ),
      ),
    ),
  );
}

async function listInto(container, name, params, caption, columns, link) {
  const r = await query(name, Object.assign({ limit: 1000 }, params));
  if (!r.ok) container.append(el('p', { class: 'form-error' }, t('error.load') + ' (' + name + '): ' + errorText(r.data)));
  else container.append(table(r.data.rows, caption, columns, link));
  return r;
}

// ---- public pages ----

async function pageHome(main) {
  main.append(el('h1', {}, t('home.title')), el('p', {}, t('home.intro')));
  const r = await query('head');
  if (r.ok) {
    main.append(
      el('h2', {}, t('home.registry')),
      el('dl', { class: 'box' }, el('dt', {}, cap(t('col.registry'))), el('dd', {}, r.data.registry),
        el('dt', {}, cap(t('col.party'))), el('dd', {}, r.data.party)),
    );
  }
}

async function pageProjects(main) {
  main.append(el('h1', {}, t('projects.title')));
  await listInto(main, 'projects', {}, null);
}

async function pageDecisions(main) {
  main.append(el('h1', {}, t('decisions.title')));
  await listInto(main, 'decisions', {}, null);
}

async function pageIssuances(main) {
  main.append(el('h1', {}, t('issuances.title')));
  const r = await listInto(main, 'issuances', {}, null);
  if (!r.ok) return;
  const a = await query('allocations', { limit: 1000 });
  if (!a.ok) return main.append(el('p', { class: 'form-error' }, errorText(a.data)));
  for (const iss of r.data.rows) {
    const rows = a.data.rows.filter((x) => x.issuance === iss.id);
    const sec = el('section', { 'aria-label': t('issuances.alloc', { id: iss.id }) });
    sec.append(el('h2', {}, t('issuances.alloc', { id: iss.id })), table(rows, null, ['account', 'quantity', 'first', 'last']));
    main.append(sec);
  }
}

function offered(kind, name) {
  const paths = (state.api && state.api.paths) || {};
  const p = paths['/api/v1/' + kind + '/' + name];
  return p ? p.get || p.post : null;
}

async function pageReports(main) {
  main.append(el('h1', {}, t('reports.title')));
  for (const name of ['public_accounts', 'units_by_type', 'tx_summary']) {
    const sec = el('section', { id: 'report-' + name }, el('h2', {}, t('reports.' + name)));
    main.append(sec);
    const op = offered('queries', name);
    if (!op || (!op['x-public'] && !state.session)) sec.append(el('p', { class: 'note' }, t('reports.unavailable')));
    else await listInto(sec, name, {}, null);
  }
}

async function pageArticle6(main) {
  main.append(el('h1', {}, t('article6.title')));
  main.append(el('h2', {}, t('article6.authorizations')));
  await listInto(main, 'authorizations', {}, null, ['id', 'version', 'date', 'coop', 'quantity', 'purposes', 'parties', 'first_year', 'last_year']);
  main.append(el('h2', {}, t('article6.actions')));
  await listInto(main, 'actions', {}, null, ['seq', 'time', 'type', 'subtype', 'auth_id', 'origin', 'first', 'last', 'quantity', 'vintage', 'transferring', 'acquiring', 'purpose', 'ndc_year']);
  main.append(el('h2', {}, t('article6.balance')));
  const b = await query('a6.balance');
  if (!b.ok) main.append(el('p', { class: 'note' }, errorText(b.data)));
  else {
    const rows = Array.isArray(b.data.years) ? b.data.years : null;
    main.append(rows ? table(rows) : el('pre', { class: 'mono' }, JSON.stringify(b.data, null, 2)));
  }
  main.append(aefDownload());
}

// Links to GET /api/v1/reports/aef for a year (a public report); the browser downloads the file.
function aefDownload() {
  const sec = el('section', { id: 'aef' }, el('h2', {}, t('article6.aef')), el('p', { class: 'note' }, t('article6.aefNote')));
  const year = el('input', { id: 'aef-year', name: 'year', type: 'text', inputmode: 'numeric', value: String(new Date().getUTCFullYear()), size: 6 });
  const links = el('ul', { class: 'actions' });
  const update = () => {
    const y = year.value.trim();
    links.replaceChildren(...['csv', 'json', 'xlsx'].map((f) =>
      el('li', {}, el('a', { id: 'aef-' + f, href: '/api/v1/reports/aef?' + new URLSearchParams({ year: y, format: f }).toString(), download: '' }, 'AEF ' + y + ' (' + f.toUpperCase() + ')'))));
  };
  year.addEventListener('input', update);
  update();
  sec.append(el('div', { class: 'field' }, el('label', { for: 'aef-year' }, t('article6.aefYear')), year), links);
  return sec;
}

async function pageHead(main) {
  main.append(el('h1', {}, t('head.title')), el('p', {}, t('head.intro')));
  const r = await query('head');
  if (!r.ok) return main.append(el('p', { class: 'form-error' }, errorText(r.data)));
  main.append(table([r.data], null, ['registry', 'party', 'seq', 'hash']));
}

// ---- signing in ----

// Who the cookie (if any) signs in, with its CSRF token; a reload keeps you signed in.
async function loadSession() {
  state.session = null;
  try {
    sessionStorage.removeItem('jcm.session'); // where an older version kept a bearer token
  } catch (e) {
    // no storage: nothing kept
  }
  const r = await api('GET', '/api/v1/session');
  if (r.ok && r.data.signed_in && r.data.csrf) state.session = { user: r.data.user, role: r.data.role, org: r.data.org, csrf: r.data.csrf };
}

function forget(go) {
  state.session = null;
  chrome();
  if (go) location.hash = '#/';
}

// Ends the session on the server (which clears the cookie), then here.
async function signOut() {
  if (state.session) await api('POST', '/api/v1/logout');
  forget(true);
  render(false);
}

function pageLogin(main) {
  main.append(el('h1', {}, t('login.title')));
  const err = el('p', { class: 'form-error', id: 'login-error' });
  const name = el('input', { id: 'login-name', name: 'name', autocomplete: 'username', required: true, spellcheck: 'false' });
  const pw = el('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const form = el(
    'form',
    { class: 'cmd', 'aria-describedby': 'login-error' },
    el('div', { class: 'field' }, el('label', { for: 'login-name' }, t('login.name')), name),
    el('div', { class: 'field' }, el('label', { for: 'login-password' }, t('login.password')), pw),
    err,
    el('button', { type: 'submit' }, t('login.submit')),
    el('p', { class: 'note' }, t('login.note')),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    const r = await api('POST', '/api/v1/login', { name: name.value, password: pw.value, cookie: true });
    pw.value = '';
    if (!r.ok) {
      err.textContent = t('login.failed') + ' — ' + errorText(r.data);
      name.focus();
      return;
    }
    const d = r.data;
    state.session = { user: d.user, role: d.role, org: d.org, csrf: d.csrf };
    chrome();
    location.hash = '#/accounts';
  });
  main.append(form);
}

// ---- signed-in pages ----

async function pageAccounts(main) {
  main.append(el('h1', {}, t('accounts.title')));
  await listInto(main, 'accounts', {}, null, ['id', 'type', 'holder_name', 'name', 'status', 'balance'], (c, r) =>
    c === 'id' ? '#/statement/' + encodeURIComponent(r.id) : null,
  );
}

async function pageStatement(main, arg) {
  main.append(el('h1', {}, t('statement.title')));
  const input = el('input', { id: 'statement-account', name: 'account', value: arg || '', spellcheck: 'false', list: 'account-ids' });
  const form = el(
    'form',
    { class: 'cmd' },
    el('div', { class: 'field' }, el('label', { for: 'statement-account' }, t('statement.choose')), input),
    el('button', { type: 'submit' }, t('statement.show')),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = '#/statement/' + encodeURIComponent(input.value.trim());
  });
  main.append(form, await accountList());
  if (!arg) return;
  const r = await query('statement', { account: arg });
  if (!r.ok) return main.append(el('p', { class: 'form-error' }, errorText(r.data)));
  const s = r.data;
  main.append(
    el('h2', {}, s.account),
    el('dl', { class: 'box' },
      el('dt', {}, cap(t('col.type'))), el('dd', {}, tv(s.type)),
      el('dt', {}, cap(t('col.holder'))), el('dd', {}, s.holder),
      el('dt', {}, cap(t('col.status'))), el('dd', {}, tv(s.status)),
      el('dt', {}, t('statement.opening')), el('dd', { id: 'statement-opening' }, s.opening),
      el('dt', {}, t('statement.closing')), el('dd', { id: 'statement-closing' }, s.closing)),
  );
  const rows = s.entries.map((e) => Object.assign({}, e, { quantity: (e.dir < 0 ? '−' : '+') + e.quantity }));
  main.append(rows.length ? table(rows, null, ['seq', 'time', 'tx', 'type', 'quantity', 'ranges', 'counterparty', 'balance']) : el('p', {}, t('statement.none')));
}

// The accounts the user reads, as suggestions for account fields.
async function accountList() {
  const list = el('datalist', { id: 'account-ids' });
  const r = await query('accounts', { limit: 1000 });
  if (r.ok) for (const a of r.data.rows) list.append(el('option', { value: a.id }, a.name));
  return list;
}

function commandsFor(role) {
  const out = [];
  for (const [path, item] of Object.entries((state.api && state.api.paths) || {})) {
    if (!path.startsWith('/api/v1/commands/') || !item.post) continue;
    const name = path.slice('/api/v1/commands/'.length);
    if (HIDDEN_COMMANDS.includes(name) || !(item.post['x-jcm-roles'] || []).includes(role)) continue;
    out.push(name);
  }
  return out;
}

function pageActions(main) {
  main.append(el('h1', {}, t('act.title')));
  const cmds = commandsFor(state.session.role);
  if (!cmds.length) main.append(el('p', {}, t('act.none')));
  const link = (c) => el('li', {}, el('a', { href: '#/act/' + c }, cap(t('cmd.' + c) === c ? summary(c) : t('cmd.' + c))));
  const main_ = MAIN_COMMANDS.filter((c) => cmds.includes(c));
  const other = cmds.filter((c) => !MAIN_COMMANDS.includes(c)).sort();
  if (main_.length) main.append(el('h2', {}, t('act.main')), el('ul', { class: 'actions' }, main_.map(link)));
  if (other.length) main.append(el('h2', {}, t('act.other')), el('ul', { class: 'actions' }, other.map(link)));
  // Four-eyes approval: its own page once the API offers tx.approve.
  if (cmds.includes('tx.approve')) main.append(el('p', {}, el('a', { href: '#/pending' }, t('act.pending'))));
  else if (!cmds.some((c) => c.startsWith('approve') || c.endsWith('.approve'))) main.append(el('p', { class: 'note' }, t('act.approve')));
}

function summary(cmd) {
  const op = offered('commands', cmd);
  return (op && op.summary) || cmd;
}

function commandTitle(cmd) {
  const k = 'cmd.' + cmd;
  const s = t(k);
  return s === cmd || s === cmd.replace(/_/g, ' ') ? cap(summary(cmd)) : cap(s);
}

// One form control for a field of a command's schema.
function control(name, sch, id, value) {
  const common = { id, name, 'data-field': name, spellcheck: 'false' };
  if (sch.enum) {
    const s = el('select', common, el('option', { value: '' }, '—'));
    for (const v of sch.enum) s.append(el('option', { value: v, selected: v === value }, tv(v) === v ? v : tv(v) + ' (' + v + ')'));
    return s;
  }
  if (sch.type === 'array' && sch.items && sch.items.type === 'object') return el('textarea', common, value || '');
  if (sch.maxLength > 300 && sch.type === 'string') return el('textarea', common, value || '');
  const a = Object.assign({}, common, { value: value ?? '' });
  if (name === 'password') Object.assign(a, { type: 'password', autocomplete: 'new-password' });
  else if (sch.type === 'integer') Object.assign(a, { type: 'text', inputmode: 'numeric' });
  else if (sch.format === 'date') a.type = 'date';
  else if (sch.pattern) Object.assign(a, { list: 'account-ids', autocomplete: 'off' });
  return el('input', a);
}

function hintFor(name, sch) {
  if (sch.type === 'array' && sch.items && sch.items.type === 'object') {
    const cols = Object.keys(sch.items.properties || {});
    return cols.includes('first') && cols.includes('last') ? t('form.ranges') : t('form.lines', { cols: cols.join(', ') });
  }
  if (sch.type === 'array') return t('form.list');
  return '';
}

// The value to send for a control, or undefined to leave the field out.
function valueOf(ctrl, sch) {
  const raw = ctrl.value.trim();
  if (raw === '') return undefined;
  if (sch.type === 'integer') return /^-?\d{1,15}$/.test(raw) ? Number(raw) : raw; // else the library refuses it
  if (sch.type === 'array' && sch.items && sch.items.type === 'object') {
    const props = Object.entries(sch.items.properties || {});
    return raw.split('\n').map((l) => l.trim()).filter(Boolean).map((line) => {
      const m = /^(\d+)\s*[-–]\s*(\d+)(?:\s*@\s*(\S+))?$/.exec(line);
      if (m && sch.items.properties.first) return m[3] ? { first: +m[1], last: +m[2], origin: m[3] } : { first: +m[1], last: +m[2] };
      const parts = line.split(/\s*[,=:]\s*/);
      const o = {};
      props.forEach(([k, p], i) => {
        if (parts[i] === undefined || parts[i] === '') return;
        o[k] = p.type === 'integer' && /^\d{1,15}$/.test(parts[i]) ? Number(parts[i]) : parts[i];
      });
      return o;
    });
  }
  if (sch.type === 'array') return raw.split(',').map((x) => x.trim()).filter(Boolean);
  return raw;
}

// A refusal next to the field it names (error.field): aria-invalid, the code
// and message, the focus; a refusal without a field above the submit button.
// Announced either way. Returns the field's name, or ''.
function showRefusal(inputs, formErr, data) {
  const e = (data && data.error) || {};
  const base = String(e.field || '').split(/[.[]/)[0];
  const input = inputs[base];
  const text = t('form.refused') + ' — ' + errorText(data);
  if (input) {
    input.setAttribute('aria-invalid', 'true');
    document.getElementById(input.id + '-error').textContent = text;
    input.focus();
  } else {
    formErr.textContent = text;
  }
  announce(text, 'bad');
  return input ? base : '';
}

function clearRefusal(inputs, formErr) {
  formErr.textContent = '';
  for (const c of inputs) {
    c.removeAttribute('aria-invalid');
    document.getElementById(c.id + '-error').textContent = '';
  }
}

function randomKey() {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return 'web-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

async function pageCommand(main, cmd, params) {
  const op = offered('commands', cmd);
  if (!op || !(op['x-jcm-roles'] || []).includes(state.session.role) || HIDDEN_COMMANDS.includes(cmd)) {
    main.append(el('h1', {}, cmd), el('p', { class: 'form-error' }, t('act.none')));
    return;
  }
  const sch = op.requestBody.content['application/json'].schema;
  const required = sch.required || [];
  const formErr = el('p', { class: 'form-error', id: 'form-error' });
  const form = el('form', { class: 'cmd', novalidate: true, 'aria-describedby': 'form-error', id: 'cmd-form' });
  const controls = {};
  const adv = el('details', {}, el('summary', {}, t('form.advanced')));
  // required fields first, then the optional ones; the idempotency key last, folded away
  const names = Object.keys(sch.properties || {}).sort((a, b) => (a === 'key') - (b === 'key') || required.includes(b) - required.includes(a));
  for (const name of names) {
    const fs = sch.properties[name];
    const id = 'f-' + name;
    const value = name === 'key' ? randomKey() : params.get(name) || '';
    const c = control(name, fs, id, value);
    const hint = [fs.description, hintFor(name, fs)].filter(Boolean).join(' — ');
    const req = required.includes(name);
    c.setAttribute('aria-describedby', id + '-hint ' + id + '-error');
    if (req) c.setAttribute('aria-required', 'true');
    const label = (lang() === 'ja' ? t('field.' + name) : cap(name.replace(/_/g, ' '))) + (req ? ' (' + t('form.required') + ')' : '');
    const box = el('div', { class: 'field' }, el('label', { for: id }, label), el('span', { class: 'hint', id: id + '-hint' }, hint), c,
      el('p', { class: 'error', id: id + '-error' }));
    controls[name] = { c, fs };
    (name === 'key' ? adv : form).append(box);
  }
  form.append(adv, formErr, el('button', { type: 'submit' }, t('form.submit')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearRefusal(Object.values(controls).map((x) => x.c), formErr);
    const body = {};
    for (const [name, { c, fs }] of Object.entries(controls)) {
      const v = valueOf(c, fs);
      if (v !== undefined) body[name] = v;
    }
    const r = await api('POST', '/api/v1/commands/' + cmd, body);
    if (r.ok) {
      const res = r.data.result || {};
      // a held command (four eyes) says so: "awaiting approval"
      announce(t('form.done') + ': ' + commandTitle(cmd) + (res.tx || res.id ? ' — ' + (res.tx || res.id) : '') +
        (res.status ? ' — ' + tv(res.status) : ''), 'ok');
      controls.key && (controls.key.c.value = randomKey()); // a new action gets a new key
      return;
    }
    const inputs = Object.fromEntries(Object.entries(controls).map(([k, v]) => [k, v.c]));
    if (showRefusal(inputs, formErr, r.data) === 'key') adv.open = true;
  });
  main.append(el('h1', {}, commandTitle(cmd)), el('p', { class: 'note' }, summary(cmd)), form, await accountList());
}

// A command from a row's button: "…" while it runs, then its result (what
// done(result) adds to "Done") or its refusal in out, announced with label.
async function rowCommand(label, out, cmd, body, done) {
  out.className = 'row-result';
  out.textContent = t('pending.working');
  const r = await api('POST', '/api/v1/commands/' + cmd, body);
  if (r.ok) {
    out.textContent = t('form.done') + (done(r.data.result || {}) || '');
    out.classList.add('ok');
  } else {
    out.textContent = t('form.refused') + ' — ' + errorText(r.data);
    out.classList.add('bad');
  }
  announce(label + ': ' + out.textContent, r.ok ? 'ok' : 'bad');
  return r.ok;
}

// ---- four eyes: transactions held for a second administrator ----

const APPROVERS = ['admin', 'auditor'];

function pendingRanges(v) {
  if (typeof v !== 'string') return cell('ranges', v);
  try {
    return cell('ranges', JSON.parse(v));
  } catch (e) {
    return v;
  }
}

// The journal entry's time: the pending query gives its sequence number.
async function entryTime(seq) {
  const r = await query('journal', { before: seq + 1, limit: 1 });
  const row = r.ok && r.data.rows && r.data.rows[0];
  return row && row.seq === seq ? row.time : '#' + seq;
}

// The pending query's rows; for an administrator each waiting one has
// Approve and Reject (with a reason), whose result or refusal shows in the row.
async function pagePending(main) {
  main.append(el('h1', {}, t('pending.title')), el('p', { class: 'note' }, t('pending.intro')));
  if (!APPROVERS.includes(state.session.role)) return main.append(el('p', { class: 'form-error' }, t('pending.only')));
  const r = await query('pending', { limit: 1000 });
  if (!r.ok) return main.append(el('p', { class: 'form-error' }, t('error.load') + ' (pending): ' + errorText(r.data)));
  const rows = r.data.rows || [];
  if (!rows.length) return main.append(el('p', { class: 'note' }, t('pending.none')));
  const admin = state.session.role === 'admin';
  const cols = ['tx', 'cmd', 'proposer', 'from_account', 'to_account', 'quantity', 'ranges', 'time', 'status'];
  const times = await Promise.all(rows.map((x) => entryTime(x.seq)));
  const body = el('tbody', {});
  rows.forEach((x, i) => body.append(pendingRow(x, times[i], cols, admin)));
  main.append(
    el('table', { id: 'pending' },
      el('thead', {}, el('tr', {}, cols.map((c) => el('th', { scope: 'col' }, cap(t('col.' + c)))),
        el('th', { scope: 'col' }, cap(t('pending.decision'))))),
      body),
  );
}

function pendingRow(x, time, cols, admin) {
  const id = x.id;
  const values = { tx: id, cmd: t('cmd.' + x.cmd) === x.cmd ? x.cmd : t('cmd.' + x.cmd), proposer: x.proposer + ' (' + t('role.' + x.proposer_role) + ')',
    from_account: x.from_account, to_account: x.to_account || '', quantity: x.quantity, ranges: pendingRanges(x.ranges), time, status: tv(x.status) };
  const status = el('td', {}, values.status);
  const tr = el('tr', { 'data-tx': id }, cols.map((c) => (c === 'status' ? status : el('td', { class: c === 'quantity' ? 'num' : null }, values[c]))));
  const out = el('p', { class: 'row-result', id: 'pending-result-' + id, 'aria-live': 'polite' });
  if (x.status !== 'awaiting approval' || !admin) {
    if (x.decided_by) out.textContent = t('pending.decided', { user: x.decided_by }) + (x.reason ? ': ' + x.reason : '');
    tr.append(el('td', {}, out));
    return tr;
  }
  const buttons = el('div', { class: 'row-actions' });
  const reasonId = 'pending-reason-' + id;
  const reason = el('input', { id: reasonId, name: 'reason', required: true, spellcheck: 'false' });
  const rejectForm = el('form', { class: 'reject', hidden: true },
    el('label', { for: reasonId }, t('pending.reason', { tx: id })), reason,
    el('button', { type: 'submit', 'aria-label': t('pending.confirmReject', { tx: id }) }, t('pending.confirm')));
  const decide = (cmd, body) => rowCommand(id, out, cmd, body, (res) => {
    status.textContent = tv(res.status || '');
    buttons.remove();
    rejectForm.remove();
    return ' — ' + tv(res.status || '') + (res.tx ? ' (' + res.tx + ')' : '');
  });
  buttons.append(
    el('button', { type: 'button', 'aria-label': t('pending.approveTx', { tx: id }), onclick: () => decide('tx.approve', { tx: id }) }, t('pending.approve')),
    el('button', { type: 'button', 'aria-label': t('pending.rejectTx', { tx: id }), 'aria-expanded': 'false', 'aria-controls': 'pending-reject-' + id,
      onclick: (ev) => {
        rejectForm.hidden = !rejectForm.hidden;
        ev.currentTarget.setAttribute('aria-expanded', String(!rejectForm.hidden));
        if (!rejectForm.hidden) reason.focus();
      } }, t('pending.reject')),
  );
  rejectForm.id = 'pending-reject-' + id;
  rejectForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    decide('tx.reject', { tx: id, reason: reason.value.trim() }); // an empty reason: the library refuses it
  });
  tr.append(el('td', {}, buttons, rejectForm, out));
  return tr;
}

// ---- your account: a new password ----

// user.password with the current password; the session that changed it goes
// on (the server renews it), the user's other sessions end.
function pageAccount(main) {
  const me = state.session;
  main.append(el('h1', {}, t('account.title')), el('p', {}, t('who.as', { user: me.user, role: t('role.' + me.role) })),
    el('h2', {}, t('account.heading')), el('p', { class: 'note' }, t('account.note')));
  const inputs = {};
  const formErr = el('p', { class: 'form-error', id: 'password-error' });
  const form = el('form', { class: 'cmd', id: 'password-form', 'aria-describedby': 'password-error' });
  for (const [name, autocomplete] of [['current', 'current-password'], ['password', 'new-password'], ['repeat', 'new-password']]) {
    const id = 'pw-' + name;
    inputs[name] = el('input', { id, name, type: 'password', autocomplete, required: true, 'aria-describedby': id + '-error' });
    form.append(el('div', { class: 'field' }, el('label', { for: id }, t('account.' + name)), inputs[name], el('p', { class: 'error', id: id + '-error' })));
  }
  form.append(formErr, el('button', { type: 'submit' }, t('account.change')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearRefusal(Object.values(inputs), formErr);
    if (inputs.password.value !== inputs.repeat.value) { // a typo, not a rule: the rules are the library's
      inputs.repeat.setAttribute('aria-invalid', 'true');
      document.getElementById('pw-repeat-error').textContent = t('account.mismatch');
      return inputs.repeat.focus();
    }
    const body = { name: me.user, current: inputs.current.value, password: inputs.password.value };
    const r = await api('POST', '/api/v1/commands/user.password', body);
    for (const c of Object.values(inputs)) c.value = '';
    if (r.ok) announce(t('account.changed'), 'ok');
    else showRefusal(inputs, formErr, r.data);
  });
  main.append(form);
}

// ---- users of the registry and their API tokens ----

// For administrators and auditors (the users and tokens queries); an
// administrator disables and enables users, sets their passwords and roles
// and revokes tokens from the rows. After a change the page is read again.
async function pageUsers(main) {
  main.append(el('h1', {}, t('users.title')), el('p', { class: 'note' }, t('users.intro')));
  if (!APPROVERS.includes(state.session.role)) return main.append(el('p', { class: 'form-error' }, t('users.only')));
  const admin = state.session.role === 'admin';
  const users = await query('users', { limit: 1000 });
  if (!users.ok) return main.append(el('p', { class: 'form-error' }, t('error.load') + ' (users): ' + errorText(users.data)));
  const cols = ['name', 'role', 'org', 'status'];
  const rows = users.data.rows.map((u) => Object.assign({}, u, { status: u.disabled ? 'disabled' : 'enabled' }));
  main.append(rowTable('users', cols, rows, admin ? userActions : null));
  const tokens = await query('tokens', { limit: 1000 });
  main.append(el('h2', {}, t('users.tokens')), el('p', { class: 'note' }, t('users.tokensNote')));
  if (!tokens.ok) return main.append(el('p', { class: 'form-error' }, errorText(tokens.data)));
  main.append(rowTable('tokens', ['id', 'user', 'seq', 'expires', 'revoked_seq'], tokens.data.rows, admin ? tokenActions : null));
}

// A table whose rows may end in a cell of actions(row, out).
function rowTable(id, cols, rows, actions) {
  if (!rows.length) return el('p', { class: 'note' }, t('empty'));
  const head = cols.map((c) => el('th', { scope: 'col' }, cap(t('col.' + c))));
  if (actions) head.push(el('th', { scope: 'col' }, cap(t('users.actions'))));
  const body = rows.map((r) => {
    const out = el('p', { class: 'row-result', 'aria-live': 'polite' });
    const tds = cols.map((c) => el('td', { class: typeof r[c] === 'number' ? 'num' : null }, cell(c, r[c])));
    if (actions) tds.push(el('td', {}, actions(r, out), out));
    return el('tr', {}, tds);
  });
  return el('table', { id }, el('thead', {}, el('tr', {}, head)), el('tbody', {}, body));
}

function userActions(u, out) {
  const cmd = u.disabled ? 'user.enable' : 'user.disable';
  const again = () => render(false);
  const pwId = 'user-password-' + u.name;
  const pw = el('input', { id: pwId, name: 'password', type: 'password', autocomplete: 'new-password' });
  const pwForm = el('form', { class: 'reject', id: 'set-password-' + u.name, hidden: true },
    el('label', { for: pwId }, t('users.newPassword', { user: u.name })), pw,
    el('button', { type: 'submit', 'aria-label': t('users.confirmPassword', { user: u.name }) }, t('users.setPassword')));
  pwForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const password = pw.value;
    pw.value = '';
    rowCommand(u.name, out, 'user.password', { name: u.name, password }, () => {
      pwForm.hidden = true;
    });
  });
  const roleForm = roleChangeForm(u, out, again);
  return el('div', {},
    el('div', { class: 'row-actions' },
      el('button', { type: 'button', 'aria-label': t(u.disabled ? 'users.enableUser' : 'users.disableUser', { user: u.name }),
        onclick: async () => (await rowCommand(u.name, out, cmd, { name: u.name }, () => '')) && again() },
      t(u.disabled ? 'users.enable' : 'users.disable')),
      el('button', { type: 'button', 'aria-label': t('users.setPasswordUser', { user: u.name }), 'aria-controls': pwForm.id,
        onclick: () => {
          pwForm.hidden = !pwForm.hidden;
          if (!pwForm.hidden) pw.focus();
        } }, t('users.setPassword')),
      el('button', { type: 'button', 'aria-label': t('users.changeRoleUser', { user: u.name }), 'aria-controls': roleForm.id,
        onclick: () => {
          roleForm.hidden = !roleForm.hidden;
          if (!roleForm.hidden) roleForm.querySelector('select').focus();
        } }, t('users.changeRole'))),
    pwForm, roleForm);
}

// user.role: a new role, and the organisation a holder speaks for.
function roleChangeForm(u, out, again) {
  const roleId = 'user-role-' + u.name, orgId = 'user-org-' + u.name;
  const roles = ['admin', 'jc_secretariat', 'holder', 'tpe', 'auditor', 'peer'];
  const select = el('select', { id: roleId, name: 'role' },
    roles.map((r) => el('option', { value: r, selected: r === u.role ? '' : null }, t('role.' + r))));
  const org = el('input', { id: orgId, name: 'org', value: u.org || '', autocomplete: 'off' });
  const form = el('form', { class: 'reject', id: 'change-role-' + u.name, hidden: true },
    el('label', { for: roleId }, t('users.newRole', { user: u.name })), select,
    el('label', { for: orgId }, t('users.roleOrg')), org,
    el('button', { type: 'submit', 'aria-label': t('users.confirmRole', { user: u.name }) }, t('users.changeRole')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { name: u.name, role: select.value };
    if (select.value === 'holder' && org.value.trim()) body.org = org.value.trim(); // only a holder has one
    if (await rowCommand(u.name, out, 'user.role', body, () => '')) again();
  });
  return form;
}

function tokenActions(k, out) {
  if (k.revoked_seq !== null && k.revoked_seq !== undefined) return el('span', { class: 'note' }, t('users.revoked'));
  return el('button', { type: 'button', 'aria-label': t('users.revokeToken', { id: k.id }),
    onclick: async () => (await rowCommand(k.id, out, 'token.revoke', { id: k.id }, () => '')) && render(false) }, t('users.revoke'));
}

// ---- the frame: navigation, language, routes ----

function chrome() {
  document.documentElement.lang = lang();
  for (const n of document.querySelectorAll('[data-i18n]')) n.textContent = t(n.getAttribute('data-i18n'));
  const b = document.getElementById('lang');
  b.textContent = t('lang.switch');
  b.setAttribute('lang', lang() === 'en' ? 'ja' : 'en');
  b.setAttribute('aria-label', t('lang.switchLabel'));
  const s = state.session;
  document.getElementById('nav-signed').hidden = !s;
  document.getElementById('signin').hidden = !!s;
  document.getElementById('signout').hidden = !s;
  document.getElementById('nav-pending').hidden = !(s && APPROVERS.includes(s.role));
  document.getElementById('nav-users').hidden = !(s && APPROVERS.includes(s.role));
  document.getElementById('who').textContent = s ? t('who.as', { user: s.user, role: t('role.' + s.role) }) : '';
}

const routes = {
  '': pageHome,
  projects: pageProjects,
  decisions: pageDecisions,
  issuances: pageIssuances,
  reports: pageReports,
  article6: pageArticle6,
  head: pageHead,
  login: pageLogin,
  accounts: pageAccounts,
  statement: pageStatement,
  act: pageActions,
  pending: pagePending,
  account: pageAccount,
  users: pageUsers,
};
const SIGNED = ['accounts', 'statement', 'act', 'pending', 'account', 'users'];
let renderSeq = 0;

async function render(focus) {
  const hash = location.hash.startsWith('#/') ? location.hash.slice(2) : '';
  const [path, qs] = hash.split('?');
  const [name, ...rest] = path.split('/');
  const arg = rest.length ? decodeURIComponent(rest.join('/')) : '';
  const main = document.getElementById('main');
  const seq = ++renderSeq;
  // data-route says which navigation this content answers (tests wait on it)
  const page = el('div', { 'aria-busy': 'true', 'data-route': hash });
  if (SIGNED.includes(name) && !state.session) {
    page.append(el('p', {}, t('signin.needed') + ' '), el('a', { href: '#/login' }, t('nav.login')));
  } else if (name === 'act' && arg) {
    await pageCommand(page, arg, new URLSearchParams(qs || ''));
  } else {
    await (routes[name] || pageHome)(page, arg);
  }
  if (seq !== renderSeq) return; // a later navigation won
  page.removeAttribute('aria-busy');
  main.replaceChildren(page);
  const h1 = page.querySelector('h1');
  document.title = (h1 ? h1.textContent + ' — ' : '') + t('brand');
  for (const a of document.querySelectorAll('nav a')) {
    if (a.getAttribute('href') === '#/' + name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (focus) main.focus();
  const head = await query('head');
  if (head.ok) {
    document.getElementById('foot-head').textContent = head.data.hash;
    document.getElementById('registry').textContent = head.data.registry + ' (' + head.data.party + ')';
  }
}

async function start() {
  await loadSession();
  const r = await api('GET', '/api/v1/openapi.json');
  state.api = r.ok ? r.data : { paths: {} };
  document.getElementById('lang').addEventListener('click', () => {
    setLang(lang() === 'en' ? 'ja' : 'en');
    document.getElementById('status').replaceChildren(); // it spoke the other language
    chrome();
    render(false);
  });
  document.getElementById('signout').addEventListener('click', () => signOut());
  window.addEventListener('hashchange', () => {
    if (!location.hash.startsWith('#/') && location.hash !== '') return; // #main: the skip link
    document.getElementById('status').replaceChildren();
    render(true);
  });
  chrome();
  await render(false);
}

start();
