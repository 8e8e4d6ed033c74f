// guard.mjs: what the browser tests share. It launches Debian's Chromium (/usr/bin/chromium)
// through playwright-core, opens pages at a given viewport that record everything that
// went wrong in them, and saves screenshots.
//
// A guarded page records, as "problems":
//   - every console message of type 'error' or 'assert';
//   - every uncaught exception and unhandled rejection ('pageerror') and a renderer crash;
//   - every failed request ('requestfailed': refused, reset, aborted, blocked);
//   - every HTTP answer with a status of 400 or more;
//   - every request whose URL is not on the wfreg origin. Those are also blocked (aborted
//     before they leave the browser), so a test never contacts anything but 127.0.0.1.
//     data: and blob: URLs never reach the network and are allowed.
// guard.check() throws with the list, so a test fails on any of them.
//
// What Chromium 156 with playwright-core 1.64.1 actually reports (measured on a small
// local page that provoked each case):
//   - A fetch() answered 4xx or 5xx is not a failed request: no 'requestfailed', a
//     'response' with that status, and one console message of type 'error', text
//     "Failed to load resource: the server responded with a status of 422 (Unprocessable
//     Entity)", whose location().url is the fetched URL (not the script's).
//   - A stylesheet, script or image answered 4xx gets the same console error and, in
//     addition, a 'requestfailed' with errorText net::ERR_ABORTED.
//   - A request blocked here gets 'requestfailed' net::ERR_BLOCKED_BY_CLIENT.Inspector and
//     a console error "Failed to load resource: net::ERR_BLOCKED_BY_CLIENT.Inspector"
//     (and fetch() rejects with "TypeError: Failed to fetch").
//   - console.error() is a console 'error' at the script's location; a thrown error and
//     an unhandled rejection are each one 'pageerror' (nothing on the console).
//   - Headless Chromium does not ask for /favicon.ico at all.
//   - Chromium's "[DOM] Input elements should have autocomplete attributes" hint is of
//     type 'verbose' and is not recorded.
// The guard tells each of these once: an answer of 400 or more as "HTTP 422: POST <url>",
// from its 'response' event (which comes before the console message), leaving out the
// console message and the net::ERR_ABORTED that only repeat it; a blocked request as
// "request leaving ...", leaving out its failure and console message.
// For an answer the scenario provokes on purpose (a 422 for a bad URL, a 401 for a bad
// password), guard.expect(status, path) declares it: the answer, its console message and
// a net::ERR_ABORTED on that URL are then not problems, and guard.seen() counts them.
// An expectation lasts for the rest of the page's life: a status on a path is either
// expected on that page or not, whatever the order in which Chromium's events arrive.

import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

// Bounds on every wait, in milliseconds (WFREG_TEST_TIMEOUT_SCALE stretches them).
const SCALE = Math.max(1, Number(process.env.WFREG_TEST_TIMEOUT_SCALE) || 1);
export const ms = (n) => Math.round(n * SCALE);
const LAUNCH_TIMEOUT = ms(30_000);
const ACTION_TIMEOUT = ms(10_000);
const NAVIGATION_TIMEOUT = ms(15_000);
const SETTLE = ms(250); // lets events already on their way arrive before a check

const FAILED_RESOURCE = /^Failed to load resource: the server responded with a status of (\d+)/;

// The two viewports every scenario runs at: a phone and a desktop.
export const VIEWPORTS = {
  360: { width: 360, height: 800 },
  1440: { width: 1440, height: 900 },
};

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking'],
    timeout: LAUNCH_TIMEOUT,
  });
}

// A new browser context and page at viewport width (360 or 1440), recording its problems
// for the origin of baseURL. Returns { context, page, guard }; close the context when done.
export async function openPage(browser, baseURL, width) {
  const viewport = VIEWPORTS[width] || { width, height: 900 };
  const context = await browser.newContext({ viewport, baseURL });
  context.setDefaultTimeout(ACTION_TIMEOUT);
  context.setDefaultNavigationTimeout(NAVIGATION_TIMEOUT);
  const guard = new Guard(new URL(baseURL).origin);
  await context.route((url) => !guard.isLocal(url.href), async (route) => {
    guard.offOrigin(route.request());
    await route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  guard.watch(page);
  return { context, page, guard };
}

export class Guard {
  constructor(origin) {
    this.origin = origin;
    this.problems = []; // readable lines, not yet reported by check()
    this.expected = []; // { status, path, count }
    this.blocked = new Set(); // URLs blocked here: their failures are that same problem
  }

  // An answer with this status on this path is part of the scenario, not a problem.
  // path: a string, compared with the URL's path (without the query), or a RegExp,
  // tested on path and query. Lasts for the rest of the page's life.
  expect(status, path) {
    this.expected.push({ status, path, count: 0 });
    return this;
  }

  // How many answers with this status matched the expectation expect(status, path).
  seen(status, path) {
    const e = this.expected.find((x) => x.status === status && String(x.path) === String(path));
    return e ? e.count : 0;
  }

  // Throws an Error listing every problem recorded since the last check (after letting
  // events already on their way arrive). what: says where, in the message.
  async check(page, what = 'page') {
    if (page && !page.isClosed()) await page.waitForTimeout(SETTLE);
    const problems = this.problems.splice(0);
    if (problems.length) {
      throw new Error(`${what}: ${problems.length} problem(s) in the browser:\n`
        + problems.map((p) => `  - ${p}`).join('\n'));
    }
  }

  // --- recording -----------------------------------------------------------------------

  isLocal(href) {
    if (href.startsWith('data:') || href.startsWith('blob:')) return true;
    try {
      return new URL(href).origin === this.origin;
    } catch {
      return false;
    }
  }

  record(line) {
    this.problems.push(line);
  }

  offOrigin(request) {
    this.blocked.add(request.url());
    this.record(`request leaving ${this.origin} (blocked): ${request.method()} ${request.url()}`
      + ` (${request.resourceType()})`);
  }

  // The expectation that an answer with status on href matches, if any.
  match(status, href) {
    let u;
    try {
      u = new URL(href);
    } catch {
      return null;
    }
    if (u.origin !== this.origin) return null;
    return this.expected.find((e) => e.status === status && (e.path instanceof RegExp
      ? e.path.test(u.pathname + u.search) : e.path === u.pathname)) || null;
  }

  watch(page) {
    const statusOf = new Map(); // URL -> status of its last answer of 400 or more
    page.on('response', (response) => {
      const status = response.status();
      if (status < 400) return;
      const url = response.url();
      statusOf.set(url, status);
      const e = this.match(status, url);
      if (e) e.count += 1;
      else this.record(`HTTP ${status}: ${response.request().method()} ${url}`);
    });
    page.on('console', (msg) => {
      const type = msg.type();
      if (type !== 'error' && type !== 'assert') return;
      const url = msg.location().url || '';
      if (this.blocked.has(url)) return;
      // "Failed to load resource: ... status of N": the answer itself is recorded (once)
      // or expected, as its 'response' event says, which comes first.
      const m = FAILED_RESOURCE.exec(msg.text());
      if (m && (statusOf.get(url) === Number(m[1]) || this.match(Number(m[1]), url))) return;
      this.record(`console.${type}: ${msg.text()}${url ? ` (${url})` : ''}`);
    });
    page.on('pageerror', (error) => {
      const where = (error.stack || '').split('\n').slice(1, 3).map((s) => s.trim()).join(' ');
      this.record(`uncaught ${error.name || 'error'}: ${error.message}${where ? ` ${where}` : ''}`);
    });
    page.on('requestfailed', (request) => {
      const url = request.url();
      if (this.blocked.has(url)) return;
      const text = request.failure()?.errorText || 'failed';
      if (text === 'net::ERR_ABORTED' && statusOf.has(url)) return; // told by its answer
      this.record(`request failed: ${request.method()} ${url}: ${text}`);
    });
    page.on('crash', () => this.record('the page crashed'));
  }
}

// Saves a full-page screenshot as <name>-<viewport width>.png in WFREG_ARTIFACTS (default:
// ./artifacts); returns its path.
export async function shot(page, name) {
  const dir = resolve(process.env.WFREG_ARTIFACTS || 'artifacts');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${page.viewportSize().width}.png`);
  await page.screenshot({ path: file, fullPage: true, timeout: ACTION_TIMEOUT });
  return file;
}

// Runs steps [{ name, run(ctx) }] in order, logging each by name, and after each one
// ctx.guard.check() (when ctx has a guard), so a problem is told with the step it came in.
// A failure names the step (and `label`, e.g. the width) and saves a screenshot
// 'failed-<step>' when ctx.page is open.
export async function runSteps(label, steps, ctx) {
  for (const [i, step] of steps.entries()) {
    const t0 = Date.now();
    console.log(`[${label}] ${i + 1}/${steps.length} ${step.name}`);
    try {
      await step.run(ctx);
      if (ctx.guard) await ctx.guard.check(ctx.page, 'during this step');
    } catch (err) {
      if (ctx.page && !ctx.page.isClosed()) {
        const slug = step.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
        await shot(ctx.page, `failed-${slug}`).catch(() => {});
      }
      const also = ctx.guard ? ctx.guard.problems.splice(0) : [];
      err.message = `[${label}] step "${step.name}" failed: ${err.message}`
        + (also.length ? `\nthe browser also recorded:\n${also.map((p) => `  - ${p}`).join('\n')}` : '');
      throw err;
    }
    console.log(`[${label}]     ok (${Date.now() - t0} ms)`);
  }
}
