// admin.spec.mjs: the admin page (issue 6) in a real headless Chromium, at 1440 and at 360
// pixels wide. tests/web/test_admin_page.py starts wfreg and a fake n8n and runs this
// with their addresses in the environment:
//   WFREG_URL               http://127.0.0.1:PORT, the page's origin
//   FAKE_N8N_URL            the fake n8n's base URL, to register as an engine
//   FAKE_N8N_KEY            its API key
//   WFREG_ADMIN, WFREG_ADMIN_PASSWORD, WFREG_VIEWER, WFREG_VIEWER_PASSWORD
//   WFREG_ARTIFACTS         where screenshots go (default ./artifacts)
// Each width gets a fresh browser context and runs the steps below in order; each step
// is logged by name, and the guard (guard.mjs) is checked after each, so any console
// error, uncaught exception, failed request, unexpected 4xx/5xx or request leaving the
// origin fails the step it happened in. Add a step: append { name, run } to STEPS;
// run(ctx) gets ctx = { page, guard, env, width, state } (state: shared by the steps of
// one width).
//
// Exit status: 0 when every step passed at every width, 1 otherwise. The whole run is
// bounded by TOTAL_TIMEOUT.

import { launch, ms, openPage, runSteps, shot } from './guard.mjs';

const TOTAL_TIMEOUT = ms(200_000);
const WIDTHS = [1440, 360];

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (tests/web/test_admin_page.py sets it)`);
  return v;
}

const env = {
  url: required('WFREG_URL'),
  n8nUrl: process.env.FAKE_N8N_URL,
  n8nKey: process.env.FAKE_N8N_KEY,
  admin: process.env.WFREG_ADMIN,
  adminPassword: process.env.WFREG_ADMIN_PASSWORD,
  viewer: process.env.WFREG_VIEWER,
  viewerPassword: process.env.WFREG_VIEWER_PASSWORD,
};

// The login form: an input labelled "Username", one labelled "Password" and a button
// named "Log in", all in one form.
function loginForm(page) {
  const form = page.locator('form').filter({ has: page.getByLabel('Username', { exact: true }) })
    .filter({ has: page.getByLabel('Password', { exact: true }) })
    .filter({ has: page.getByRole('button', { name: 'Log in', exact: true }) });
  return {
    form,
    username: form.getByLabel('Username', { exact: true }),
    password: form.getByLabel('Password', { exact: true }),
    submit: form.getByRole('button', { name: 'Log in', exact: true }),
  };
}

// Waits until fn() is true, polling; fails with what after timeout ms.
async function until(what, fn, timeout = ms(15_000)) {
  const end = Date.now() + timeout;
  for (let i = 0; i < 1000; i++) {
    if (await fn()) return;
    if (Date.now() > end) break;
    await new Promise((r) => { setTimeout(r, 100); });
  }
  throw new Error(`waited ${timeout} ms for ${what}`);
}

async function expectText(loc, re, what) {
  await until(`${what} to match ${re}`, async () => re.test((await loc.textContent()) || ''));
}

async function expectAbsent(loc, what) {
  const n = await loc.count();
  if (n) throw new Error(`${what}: found ${n}, expected none`);
}

const row = (page, name) => page.locator(`tr[data-engine="${name}"]`);
const dialog = (page) => page.getByRole('dialog');

async function logIn(page, user, password) {
  const login = loginForm(page);
  await login.username.fill(user);
  await login.password.fill(password);
  await login.submit.click();
  await page.getByRole('heading', { name: 'Engines', exact: true }).waitFor();
}

// The engine count: "X/Y engines enabled", as the startup log says it.
// The keyboard focus is on the control of that accessible name (compared by name: the
// table is redrawn, and the element a locator found a moment ago may be gone).
async function expectFocus(page, label, when) {
  const on = await page.evaluate(() => {
    const el = document.activeElement;
    return el ? el.getAttribute('aria-label') || el.textContent : null;
  });
  if (on !== label) throw new Error(`focus ${when} is on "${on}", not "${label}"`);
}

// Every visible form control has a label a screen reader would read.
async function checkLabels(page, where) {
  const unlabelled = await page.locator('input, select, textarea').evaluateAll((els) => els
    .filter((el) => el.offsetParent !== null || el.closest('dialog[open]'))
    .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
    .map((el) => el.id || el.name || el.outerHTML.slice(0, 60)));
  if (unlabelled.length) throw new Error(`${where}: controls without a label: ${unlabelled.join(', ')}`);
}

async function counts(page) {
  const text = (await page.locator('#engine-count').textContent()) || '';
  const m = /^(\d+)\/(\d+) engines enabled$/.exec(text);
  if (!m) throw new Error(`the count says "${text}"`);
  return [Number(m[1]), Number(m[2])];
}

const STEPS = [
  {
    name: 'open the page',
    async run({ page }) {
      const response = await page.goto(env.url + '/', { waitUntil: 'load' });
      if (!response || response.status() !== 200) {
        throw new Error(`GET / answered ${response ? response.status() : 'nothing'}`);
      }
    },
  },
  {
    name: 'see the login form',
    async run({ page }) {
      const login = loginForm(page);
      await login.form.waitFor({ state: 'visible' });
      for (const [what, loc] of Object.entries(login)) {
        if (!(await loc.isVisible())) throw new Error(`the login form's ${what} is not visible`);
      }
      await shot(page, 'login');
    },
  },
  {
    name: 'a wrong password is refused',
    async run({ page, guard }) {
      guard.expect(401, '/api/v1/auth/login');
      const login = loginForm(page);
      await login.username.fill(env.admin);
      await login.password.fill('not-the-password');
      await login.submit.click();
      await expectText(page.getByRole('alert'), /Wrong username or password/, 'the log-in error');
      if (guard.seen(401, '/api/v1/auth/login') !== 1) throw new Error('expected one refused log-in');
    },
  },
  {
    name: 'log in as admin, by keyboard',
    async run({ page, state }) {
      await checkLabels(page, 'the log-in form');
      const login = loginForm(page);
      await login.username.fill(env.admin);
      await login.username.press('Tab');
      await page.keyboard.type(env.adminPassword);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Engines', exact: true }).waitFor();
      await expectText(page.locator('#who'), /admin \(admin\)/, 'who is logged in');
      await until('the engines to load', async () => (await row(page, 'n8n-default').count()) === 1);
      state.count = await counts(page);
      await checkLabels(page, 'the engines page');
    },
  },
  {
    name: 'the session survives a reload',
    async run({ page }) {
      await page.reload({ waitUntil: 'load' });
      await page.getByRole('heading', { name: 'Engines', exact: true }).waitFor();
      await expectAbsent(page.getByLabel('Password', { exact: true }), 'a password field after the reload');
    },
  },
  {
    name: 'a reload while the server cannot answer keeps the session',
    async run({ page, guard }) {
      guard.expect(503, '/api/v1/auth/me');
      let once = true;
      const me = (url) => url.pathname === '/api/v1/auth/me';
      await page.route(me, async (route) => {
        if (!once) return route.continue();
        once = false;
        return route.fulfill({ status: 503, contentType: 'application/json',
          body: '{"detail":"database unavailable"}' });
      });
      try {
        await page.reload({ waitUntil: 'load' });
        await expectText(page.getByRole('alert'), /cannot be asked right now: database unavailable/, 'the problem');
        if (!(await page.evaluate(() => sessionStorage.getItem('wfreg.session')))) throw new Error('the session was dropped');
        await page.getByRole('button', { name: 'Try again', exact: true }).click();
        await page.getByRole('heading', { name: 'Engines', exact: true }).waitFor();
      } finally {
        await page.unroute(me);
      }
    },
  },
  {
    name: 'the environment engine is read-only, with the reason',
    async run({ page }) {
      const r = row(page, 'n8n-default');
      await expectText(r, /environment/, 'its source');
      await expectText(r, /read-only: set by the server's environment/, 'the reason');
      await expectAbsent(r.getByRole('button', { name: /^(Edit|Delete|Deactivate)/ }), 'write buttons on it');
    },
  },
  {
    name: 'add an engine: the API\'s 422 message appears under the URL field',
    async run({ page, guard, state, width }) {
      state.name = `n8n-web-${width}`;
      guard.expect(422, '/api/v1/engines');
      // by keyboard: the button opens the form, Escape closes it, focus comes back
      const add = page.getByRole('button', { name: 'Add engine', exact: true });
      await add.focus();
      await page.keyboard.press('Enter');
      await dialog(page).waitFor();
      await checkLabels(page, 'the add form');
      await page.keyboard.press('Escape');
      await dialog(page).waitFor({ state: 'detached' });
      if (!(await add.evaluate((el) => el === document.activeElement))) throw new Error('focus did not return to Add engine');
      await add.click();
      const d = dialog(page);
      await d.getByLabel('Name', { exact: true }).fill(state.name);
      await d.getByLabel('Type', { exact: true }).selectOption('n8n');
      await d.getByLabel('API URL', { exact: true }).fill('ftp://example.com');
      await d.getByLabel('API key', { exact: true }).fill(env.n8nKey);
      await d.getByRole('button', { name: 'Add engine', exact: true }).click();
      const err = d.locator('#f-api_url-error');
      await expectText(err, /must be an absolute http or https URL/, 'the api_url message');
      if ((await d.getByLabel('API URL', { exact: true }).getAttribute('aria-invalid')) !== 'true') {
        throw new Error('the URL field is not marked invalid');
      }
      if (((await d.locator('#f-name-error').textContent()) || '') !== '') throw new Error('a message under a good field');
      if (guard.seen(422, '/api/v1/engines') !== 1) throw new Error('expected one 422');
      await shot(page, 'add-engine-422');
    },
  },
  {
    name: 'add an engine: fixed, it is in the table without a reload',
    async run({ page, state }) {
      const d = dialog(page);
      await d.getByLabel('API URL', { exact: true }).fill(env.n8nUrl);
      await d.getByRole('button', { name: 'Add engine', exact: true }).click();
      await d.waitFor({ state: 'detached' });
      const r = row(page, state.name);
      await r.waitFor();
      await expectText(r, /n8n/, 'its type');
      await expectText(r, new RegExp(env.n8nUrl.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')), 'its URL');
      await expectText(r, /database/, 'its source');
      const [on, all] = await counts(page);
      if (on !== state.count[0] + 1 || all !== state.count[1] + 1) throw new Error(`count ${on}/${all} after adding`);
      if ((await page.content()).includes(env.n8nKey)) throw new Error('the API key is on the page');
    },
  },
  {
    name: 'see it healthy: test the connection',
    async run({ page, state }) {
      const r = row(page, state.name);
      const test = r.getByRole('button', { name: `Test ${state.name}` });
      await test.focus();
      await page.keyboard.press('Enter');
      await expectText(r.locator('.test'), /^Test: up · \d+ ms$/, 'the test result');
      await expectText(page.locator('#announce'), new RegExp(`${state.name}: Test: up`), 'the announcement');
      // the table was drawn again; the keyboard focus is still on the same button
      await expectFocus(page, `Test ${state.name}`, 'after the test');
      await expectText(r.locator('.badge'), /^up$/, 'the health badge');
      await expectText(r, /checked (just now|\d+ s ago)/, 'when it was checked');
      await expectText(row(page, 'n8n-down').locator('.badge'), /^down/, 'the other engine, down');
      await shot(page, 'engines');
    },
  },
  {
    name: 'filter by type and state, sort by name',
    async run({ page, state, width }) {
      const names = async () => page.locator('tbody tr[data-engine]').evaluateAll(
        (rows) => rows.map((tr) => tr.dataset.engine));
      const asc = await names();
      if (asc.join() !== [...asc].sort().join()) throw new Error(`not sorted by name: ${asc}`);
      const sort = page.getByLabel('Sort', { exact: true });
      await sort.selectOption('desc');
      const desc = await names();
      if (desc.join() !== [...asc].reverse().join()) throw new Error(`not sorted Z to A: ${desc}`);
      await sort.selectOption('asc');
      if ((await names()).join() !== asc.join()) throw new Error('not sorted A to Z again');
      if (width > 760) { // the column header sorts too, where there is one
        await page.getByRole('button', { name: /^Name, sorted A to Z/ }).click();
        if ((await names()).join() !== desc.join()) throw new Error('the header did not sort Z to A');
        if ((await sort.inputValue()) !== 'desc') throw new Error('the select does not follow the header');
        await page.getByRole('button', { name: /^Name, sorted Z to A/ }).click();
      }
      await page.getByLabel('Type', { exact: true }).selectOption('windmill');
      await expectText(page.locator('tbody'), /No engine matches these filters/, 'an empty filter result');
      await page.getByLabel('Type', { exact: true }).selectOption('n8n');
      if (!(await names()).includes(state.name)) throw new Error('the n8n filter hides the n8n engine');
      await page.getByLabel('Type', { exact: true }).selectOption('');
    },
  },
  {
    name: 'open its workflows, filter by text',
    async run({ page, state }) {
      await row(page, state.name).getByRole('link', { name: `Workflows of ${state.name}` }).click();
      await page.getByRole('heading', { name: 'Workflows', exact: true }).waitFor();
      const rows = page.locator(`tbody tr[data-engine="${state.name}"]`);
      await until('four workflows', async () => (await rows.count()) === 4);
      // a name that is markup is shown as text: no element made of it, no script run
      await expectText(rows.filter({ hasText: '<img src=x' }), /<script>window\.__pwned=2<\/script>/, 'the markup name, as text');
      if ((await page.locator('main img, main script').count()) !== 0) throw new Error('a name became markup');
      if (await page.evaluate(() => window.__pwned)) throw new Error('a name ran as script');
      await page.getByLabel('Search', { exact: true }).fill('report');
      await until('the search to leave one', async () => (await rows.count()) === 1);
      await expectText(rows, /Send report/, 'the one found');
      await page.getByLabel('Search', { exact: true }).fill('');
      await until('all four again', async () => (await rows.count()) === 4);
    },
  },
  {
    name: 'run a workflow and watch it to the end',
    async run({ page, state }) {
      const wf = page.locator(`tbody tr[data-engine="${state.name}"]`).filter({ hasText: 'Nightly import' });
      await wf.getByRole('button', { name: `Run Nightly import on ${state.name}` }).click();
      await expectText(wf.locator('.run'), /(queued|running)/, 'the run starting');
      await expectText(wf.locator('.run'), /succeeded/, 'the run ending', ms(20_000));
      await shot(page, 'workflows');
    },
  },
  {
    name: 'runs: no id to follow, and an engine that misses one status answer',
    async run({ page, guard, state }) {
      const rows = page.locator(`tbody tr[data-engine="${state.name}"]`);
      const asked = [];
      const onRequest = (req) => { if (req.url().includes('/runs/')) asked.push(new URL(req.url()).pathname); };
      page.on('request', onRequest);
      // n8n may start a run without giving an id: the page says so and asks nothing more
      const starts = (url) => url.pathname.startsWith(`/api/v1/engines/${state.name}/workflows/`);
      await page.route(starts, (route) => route.fulfill({ status: 202, contentType: 'application/json',
        body: JSON.stringify({ engine: state.name, run_id: null, workflow_id: 'x', status: 'queued', started_at: null,
          ended_at: null, detail: 'started through its webhook; n8n gives no execution id and none is listed yet' }) }));
      const report = rows.filter({ hasText: 'Send report' });
      try {
        await report.getByRole('button', { name: `Run Send report on ${state.name}` }).click();
        await expectText(report.locator('.run'), /started; started through its webhook/, 'the run without an id');
        await page.waitForTimeout(ms(1500));
        if (asked.length) throw new Error(`it asked for a run without an id: ${asked}`);
        if (await report.getByRole('button', { name: /^Run / }).isDisabled()) throw new Error('the Run button stays disabled');
      } finally {
        await page.unroute(starts);
      }
      // the first status answer is a 502: asked again, the run is followed to its end
      guard.expect(502, /\/runs\//);
      let first = true;
      const status = (url) => url.pathname.startsWith(`/api/v1/engines/${state.name}/runs/`);
      await page.route(status, (route) => {
        if (!first) return route.continue();
        first = false;
        return route.fulfill({ status: 502, contentType: 'application/json', body: '{"detail":"the engine did not answer"}' });
      });
      try {
        const nightly = rows.filter({ hasText: 'Nightly import' });
        await nightly.getByRole('button', { name: `Run Nightly import on ${state.name}` }).click();
        await expectText(nightly.locator('.run'), /succeeded/, 'the run ending after a missed answer', ms(20_000));
        if (first) throw new Error('the 502 was never given');
      } finally {
        await page.unroute(status);
        page.off('request', onRequest);
      }
    },
  },
  {
    name: 'runs: a Windmill flow and script at one path keep their own status',
    async run({ page, state }) {
      const list = (url) => url.pathname === '/api/v1/workflows';
      const item = (kind) => ({ engine: state.name, id: 'f/same', name: `Same path (${kind})`, active: true, kind,
        updated_at: null });
      await page.route(list, (route) => route.fulfill({ status: 200, contentType: 'application/json',
        body: JSON.stringify({ items: [item('flow'), item('script')], errors: [] }) }));
      const start = (url) => url.pathname === `/api/v1/engines/${state.name}/workflows/f%2Fsame/runs`;
      let query = null;
      await page.route(start, (route) => {
        query = new URL(route.request().url()).search;
        return route.fulfill({ status: 202, contentType: 'application/json',
          body: JSON.stringify({ engine: state.name, run_id: 'r-1', workflow_id: 'f/same', status: 'succeeded',
            started_at: null, ended_at: null, detail: null }) });
      });
      try {
        await page.getByRole('button', { name: 'Reload', exact: true }).click();
        const flow = page.locator('tbody tr[data-kind="flow"]');
        const script = page.locator('tbody tr[data-kind="script"]');
        await flow.waitFor();
        await flow.getByRole('button', { name: `Run Same path (flow) on ${state.name}` }).click();
        await expectText(flow.locator('.run'), /succeeded \(run r-1\)/, 'the flow\'s run');
        if (query !== '?kind=flow') throw new Error(`started with ${query}`);
        if ((await script.locator('.run').count()) !== 0) throw new Error('the script shows the flow\'s run');
      } finally {
        await page.unroute(list);
        await page.unroute(start);
      }
      await page.getByRole('button', { name: 'Reload', exact: true }).click();
      await until('the real list again', async () => (await page.locator(`tbody tr[data-engine="${state.name}"]`).count()) === 4);
    },
  },
  {
    name: 'every active engine at once: a down engine is an error row',
    async run({ page, state }) {
      await page.getByLabel('Engine', { exact: true }).selectOption('');
      await until('the error row of n8n-down', async () =>
        (await page.locator('tr.error-row[data-engine="n8n-down"]').count()) === 1);
      await until('the others still listed', async () =>
        (await page.locator(`tbody tr[data-engine="${state.name}"]:not(.error-row)`).count()) === 4
        && (await page.locator('tbody tr[data-engine="n8n-default"]').count()) === 4);
    },
  },
  {
    name: 'edit it: the key shows only as set, config changes',
    async run({ page, state }) {
      await page.getByRole('link', { name: 'Engines', exact: true }).click();
      const r = row(page, state.name);
      await r.getByRole('button', { name: `Edit ${state.name}` }).click();
      let d = dialog(page);
      await expectText(d.locator('#f-key-state'), /^API key: set$/, 'the key state');
      if ((await d.getByLabel('New API key', { exact: true }).inputValue()) !== '') throw new Error('the key is shown');
      if ((await d.getByLabel('API URL', { exact: true }).inputValue()) !== env.n8nUrl) throw new Error('the URL is not shown');
      await d.getByLabel('Config (JSON object)', { exact: true }).fill('{"timeout_ms": 4000}');
      await shot(page, 'edit-engine');
      await d.getByRole('button', { name: 'Save', exact: true }).click();
      await d.waitFor({ state: 'detached' });
      await r.getByRole('button', { name: `Edit ${state.name}` }).click();
      d = dialog(page);
      await expectText(d.getByLabel('Config (JSON object)', { exact: true }), /"timeout_ms": 4000/, 'the saved config');
      await d.getByRole('button', { name: 'Cancel', exact: true }).click();
      await d.waitFor({ state: 'detached' });
    },
  },
  {
    name: 'edit a legacy engine: only what changed is sent',
    async run({ page, width }) {
      const r = row(page, 'My Engine');
      let sent = null;
      const onRequest = (req) => { if (req.method() === 'PATCH') sent = req.postDataJSON(); };
      page.on('request', onRequest);
      try {
        await r.getByRole('button', { name: 'Edit My Engine' }).click();
        const d = dialog(page);
        await expectText(d.locator('#f-key-state'), /^API key: not set$/, 'the key state');
        await d.getByLabel('API URL', { exact: true }).fill(`http://127.0.0.1:1/legacy-${width}`);
        await d.getByRole('button', { name: 'Save', exact: true }).click();
        await d.waitFor({ state: 'detached' });
        await expectText(r, new RegExp(`127\\.0\\.0\\.1:1/legacy-${width}`), 'the new URL');
        if (JSON.stringify(sent) !== `{"api_url":"http://127.0.0.1:1/legacy-${width}"}`) throw new Error(`sent ${JSON.stringify(sent)}`);
      } finally {
        page.off('request', onRequest);
      }
    },
  },
  {
    name: 'deactivate and reactivate with one click',
    async run({ page, state }) {
      const r = row(page, state.name);
      const [on, all] = await counts(page);
      await r.getByRole('button', { name: `Deactivate ${state.name}`, exact: true }).focus();
      await page.keyboard.press('Enter');
      const activate = r.getByRole('button', { name: `Activate ${state.name}`, exact: true });
      await activate.waitFor();
      await expectFocus(page, `Activate ${state.name}`, 'after deactivating');
      await expectText(r.locator('td[data-label="Active"]'), /^no$/, 'active: no');
      const [on2, all2] = await counts(page);
      if (on2 !== on - 1 || all2 !== all) throw new Error(`count ${on2}/${all2} after deactivating (was ${on}/${all})`);
      await page.getByLabel('State', { exact: true }).selectOption('active');
      await until('the active filter to hide it', async () => (await r.count()) === 0);
      await page.getByLabel('State', { exact: true }).selectOption('inactive');
      await r.waitFor();
      await page.getByLabel('State', { exact: true }).selectOption('');
      await r.getByRole('button', { name: `Activate ${state.name}`, exact: true }).click();
      await r.getByRole('button', { name: `Deactivate ${state.name}`, exact: true }).waitFor();
      await expectText(r.locator('td[data-label="Active"]'), /^yes$/, 'active: yes');
    },
  },
  {
    name: 'an answer from before a change does not undo it',
    async run({ page, state }) {
      const r = row(page, state.name);
      // The next list answer is taken from the server, then held until after a change
      // has been made and shown: it describes the engine as it was.
      let holding = true;
      let release;
      const held = new Promise((resolve) => { release = resolve; });
      let caught;
      const caughtIt = new Promise((resolve) => { caught = resolve; });
      const list = (url) => url.pathname === '/api/v1/engines';
      await page.route(list, async (route) => {
        if (!holding) return route.continue();
        holding = false;
        const response = await route.fetch();
        caught();
        await held;
        return route.fulfill({ response });
      });
      try {
        await row(page, 'n8n-down').getByRole('button', { name: 'Test n8n-down' }).click(); // ends with a load
        await caughtIt;
        await r.getByRole('button', { name: `Deactivate ${state.name}`, exact: true }).click();
        await r.getByRole('button', { name: `Activate ${state.name}`, exact: true }).waitFor();
        release();
        await page.waitForTimeout(ms(700));
        if ((await r.getByRole('button', { name: `Activate ${state.name}`, exact: true }).count()) !== 1) {
          throw new Error('the older answer put the engine back as active');
        }
      } finally {
        release();
        await page.unroute(list);
      }
      await r.getByRole('button', { name: `Activate ${state.name}`, exact: true }).click();
      await r.getByRole('button', { name: `Deactivate ${state.name}`, exact: true }).waitFor();
    },
  },
  {
    name: 'delete it behind a confirmation that names it',
    async run({ page, state }) {
      const r = row(page, state.name);
      await r.getByRole('button', { name: `Delete ${state.name}` }).click();
      let d = dialog(page);
      await expectText(d, new RegExp(`“${state.name}”`), 'the engine named in the question');
      const focused = await page.evaluate(() => document.activeElement && document.activeElement.textContent);
      if (focused !== 'Cancel') throw new Error(`the confirmation opens with "${focused}" focused, not Cancel`);
      await shot(page, 'delete-confirm');
      await d.getByRole('button', { name: 'Cancel', exact: true }).click();
      await d.waitFor({ state: 'detached' });
      if ((await r.count()) !== 1) throw new Error('Cancel deleted it');
      await r.getByRole('button', { name: `Delete ${state.name}` }).click();
      d = dialog(page);
      await d.getByRole('button', { name: `Delete ${state.name}`, exact: true }).click();
      await until('the row to go', async () => (await r.count()) === 0);
      const [on, all] = await counts(page);
      if (on !== state.count[0] || all !== state.count[1]) throw new Error(`count ${on}/${all} after deleting`);
    },
  },
  {
    name: 'a session ended elsewhere returns to the log-in form',
    async run({ page, guard }) {
      // The same token logged out by another client (another tab, the API): the page's
      // next request gets 401 and the page says the session has ended.
      const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('wfreg.session')).token);
      const res = await fetch(`${env.url}/api/v1/auth/logout`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
      if (res.status !== 204) throw new Error(`logout from outside: ${res.status}`);
      guard.expect(401, /^\/api\/v1\//);
      await page.getByRole('link', { name: 'Workflows', exact: true }).click();
      await loginForm(page).form.waitFor();
      await expectText(page.locator('.notice'), /session has ended/, 'the notice');
      if (await page.evaluate(() => sessionStorage.getItem('wfreg.session'))) throw new Error('the dead token is still stored');
      // logging in again goes on where the user was going
      const login = loginForm(page);
      await login.username.fill(env.admin);
      await login.password.fill(env.adminPassword);
      await login.submit.click();
      await page.getByRole('heading', { name: 'Workflows', exact: true }).waitFor();
      await page.getByRole('link', { name: 'Engines', exact: true }).click();
      await page.getByRole('heading', { name: 'Engines', exact: true }).waitFor();
    },
  },
  {
    name: 'a form left open when the session ends does not cover the log-in form',
    async run({ page }) {
      await row(page, 'My Engine').getByRole('button', { name: 'Edit My Engine' }).click();
      const d = dialog(page);
      await d.getByLabel('Config (JSON object)', { exact: true }).fill('{"timeout_ms": 3000}');
      const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('wfreg.session')).token);
      await fetch(`${env.url}/api/v1/auth/logout`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
      await d.getByRole('button', { name: 'Save', exact: true }).click(); // 401 (expected since the step above)
      await loginForm(page).form.waitFor();
      if ((await page.locator('dialog[open]').count()) !== 0) throw new Error('the form is still open');
      await logIn(page, env.admin, env.adminPassword);
    },
  },
  {
    name: 'log out',
    async run({ page }) {
      await page.getByRole('button', { name: 'Log out', exact: true }).click();
      await loginForm(page).form.waitFor();
      await expectText(page.locator('.notice'), /You have logged out/, 'the notice');
      await page.reload({ waitUntil: 'load' });
      await loginForm(page).form.waitFor();
    },
  },
  {
    name: 'a viewer sees everything and no write control',
    async run({ page }) {
      await logIn(page, env.viewer, env.viewerPassword);
      await expectText(page.locator('#who'), /\(viewer\)/, 'who is logged in');
      await row(page, 'n8n-default').waitFor();
      await row(page, 'n8n-down').waitFor();
      await expectAbsent(page.getByRole('button', { name: 'Add engine' }), 'Add engine');
      await expectText(row(page, 'n8n-default'), /read-only: set by the server's environment/, 'the reason, for a viewer too');
      await expectAbsent(page.getByRole('button', { name: /^(Edit|Delete|Deactivate|Activate) / }), 'write buttons');
      await shot(page, 'engines-viewer');
      await page.getByRole('link', { name: 'Workflows', exact: true }).click();
      await until('the workflows', async () => (await page.locator('tbody tr[data-engine="n8n-default"]').count()) === 4);
      await checkLabels(page, 'the workflows page');
      await expectAbsent(page.getByRole('button', { name: /^Run / }), 'Run buttons');
    },
  },
];

async function main() {
  const t0 = Date.now();
  const browser = await launch();
  try {
    for (const width of WIDTHS) {
      const { context, page, guard } = await openPage(browser, env.url, width);
      try {
        await runSteps(`${width}px`, STEPS, { page, guard, env, width, state: {} });
      } finally {
        await context.close();
      }
    }
  } finally {
    await browser.close();
  }
  console.log(`admin page: every step passed at ${WIDTHS.join(' and ')} px `
    + `(${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

const timer = setTimeout(() => {
  console.error(`admin.spec.mjs: not finished after ${TOTAL_TIMEOUT / 1000} s; giving up`);
  process.exit(1); // playwright-core closes the browser it launched on exit
}, TOTAL_TIMEOUT);

main().then(() => {
  clearTimeout(timer);
}, (err) => {
  clearTimeout(timer);
  console.error(err && err.message ? err.message : String(err));
  const at = String(err && err.stack ? err.stack : '').split('\n').filter((l) => /^\s+at /.test(l) && !l.includes('node:internal'));
  if (at.length) console.error(at.slice(0, 6).join('\n'));
  process.exitCode = 1;
});
