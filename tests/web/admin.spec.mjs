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
