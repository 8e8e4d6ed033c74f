// engines.js: the engines table: every engine with its health, filters by type and
// state, sorting by name, the "X/Y engines enabled" count; and for admins the add, edit,
// activate/deactivate and delete actions. Health changes on its own (the server checks
// every engine in the background), so the table refreshes itself while it is shown.
import { allEngines, call, enc } from './api.js';
import { h, fill, ago, confirmDialog, setText, announce, keepFocus } from './dom.js';
import { engineForm } from './engine_form.js';

const REFRESH_MS = 10000;
const TYPES = ['n8n', 'prefect', 'windmill'];
const HEALTH_TEXT = {
  up: 'up', down: 'down', unauthorized: 'unauthorized', timeout: 'down (timeout)', error: 'down (error)',
  unknown: 'unknown',
};

export function showEngines({ main, admin }) {
  const state = { engines: [], type: '', active: '', desc: false, tests: new Map(), loaded: false };
  const count = h('p', { id: 'engine-count', class: 'count' });
  const problem = h('p', { class: 'error', role: 'alert' });
  const body = h('tbody');
  const typeSel = h('select', { id: 'filter-type' },
    h('option', { value: '' }, 'All types'), TYPES.map((t) => h('option', { value: t }, t)));
  const stateSel = h('select', { id: 'filter-state' },
    h('option', { value: '' }, 'All states'), h('option', { value: 'active' }, 'Active'),
    h('option', { value: 'inactive' }, 'Inactive'));
  // sorting: the column header, and a select for narrow screens, where the header is hidden
  const sortBtn = h('button', { type: 'button', class: 'sort', onclick: () => { state.desc = !state.desc; render(); } },
    'Name');
  const sortSel = h('select', { id: 'sort' },
    h('option', { value: 'asc' }, 'Name, A to Z'), h('option', { value: 'desc' }, 'Name, Z to A'));
  sortSel.addEventListener('change', () => { state.desc = sortSel.value === 'desc'; render(); });
  const nameTh = h('th', { scope: 'col' }, sortBtn);
  typeSel.addEventListener('change', () => { state.type = typeSel.value; render(); });
  stateSel.addEventListener('change', () => { state.active = stateSel.value; render(); });

  const heading = h('h1', { tabindex: -1 }, 'Engines');
  fill(main,
    h('div', { class: 'bar' },
      heading, count,
      admin ? h('button', { type: 'button', class: 'primary', onclick: add }, 'Add engine') : null),
    h('div', { class: 'filters' },
      h('label', { for: 'filter-type' }, 'Type'), typeSel,
      h('label', { for: 'filter-state' }, 'State'), stateSel,
      h('label', { for: 'sort' }, 'Sort'), sortSel),
    problem,
    h('table', { class: 'grid engines' },
      h('caption', { class: 'sr-only' }, 'Registered engines'),
      h('thead', {}, h('tr', {}, nameTh,
        ['Type', 'URL', 'Source', 'Active', 'Health', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
      body));

  // Loads overlap (the timer, an action); only the newest answer may be shown, or an
  // answer from before a change would put the old state back on the screen.
  let newest = 0;
  async function load() {
    const mine = ++newest;
    try {
      const engines = await allEngines();
      if (mine !== newest) return;
      state.engines = engines;
      state.loaded = true;
      setText(problem, '');
    } catch (e) {
      if (mine !== newest) return;
      if (e.status !== 401) setText(problem, `The engines could not be loaded: ${e.message}`);
    }
    render();
  }

  function render() {
    keepFocus(body, renderRows, heading);
  }

  function renderRows() {
    const all = state.engines;
    const enabled = all.filter((e) => e.active).length;
    setText(count, state.loaded ? `${enabled}/${all.length} engines enabled` : 'Loading…');
    const shown = all
      .filter((e) => !state.type || e.engine_type === state.type)
      .filter((e) => !state.active || e.active === (state.active === 'active'))
      .sort((a, b) => (state.desc ? -1 : 1) * a.name.localeCompare(b.name));
    nameTh.setAttribute('aria-sort', state.desc ? 'descending' : 'ascending');
    sortSel.value = state.desc ? 'desc' : 'asc';
    sortBtn.setAttribute('aria-label', `Name, sorted ${state.desc ? 'Z to A' : 'A to Z'}; sort the other way`);
    fill(body, shown.length ? shown.map(row)
      : h('tr', {}, h('td', { colspan: 7, class: 'empty' },
        !state.loaded ? 'Loading…' : all.length ? 'No engine matches these filters.'
          : admin ? 'No engine is registered yet: add one.' : 'No engine is registered yet.')));
  }

  function row(e) {
    const health = e.health || { status: 'unknown' };
    const status = e.active ? health.status : 'inactive';
    const test = state.tests.get(e.name);
    const readOnly = e.source !== 'database';
    return h('tr', { dataset: { engine: e.name } },
      h('th', { scope: 'row', 'data-label': 'Name' }, e.name),
      h('td', { 'data-label': 'Type' }, e.engine_type),
      h('td', { 'data-label': 'URL', class: 'url' }, e.api_url),
      h('td', { 'data-label': 'Source' }, e.source),
      h('td', { 'data-label': 'Active' }, e.active ? 'yes' : 'no'),
      h('td', { 'data-label': 'Health' },
        h('span', { class: `badge ${status}` }, e.active ? HEALTH_TEXT[status] || status : 'not checked'),
        e.active && health.checked_at
          ? h('span', { class: 'muted when', title: health.checked_at }, ` checked ${ago(health.checked_at)}`) : null,
        e.key_status === 'unreadable'
          ? h('div', { class: 'error' }, 'API key unreadable: the server\'s SECRET_KEY changed') : null,
        test ? h('div', { class: `test ${test.ok ? 'ok' : 'bad'}` }, test.text) : null),
      h('td', { 'data-label': 'Actions', class: 'actions' },
        h('button', { type: 'button', onclick: () => testEngine(e), 'aria-label': `Test ${e.name}`,
          dataset: { key: `test\n${e.name}` } }, 'Test'),
        h('a', { class: 'button', href: `#/workflows?engine=${enc(e.name)}`, 'aria-label': `Workflows of ${e.name}`,
          dataset: { key: `workflows\n${e.name}` } }, 'Workflows'),
        admin && !readOnly ? [
          h('button', { type: 'button', onclick: () => edit(e), 'aria-label': `Edit ${e.name}`,
            dataset: { key: `edit\n${e.name}` } }, 'Edit'),
          h('button', { type: 'button', onclick: () => setActive(e, !e.active), dataset: { key: `toggle\n${e.name}` },
            'aria-label': `${e.active ? 'Deactivate' : 'Activate'} ${e.name}` }, e.active ? 'Deactivate' : 'Activate'),
          h('button', { type: 'button', class: 'danger', onclick: () => remove(e), 'aria-label': `Delete ${e.name}`,
            dataset: { key: `delete\n${e.name}` } }, 'Delete'),
        ] : null,
        readOnly ? h('span', { class: 'muted' }, 'read-only: set by the server\'s environment') : null));
  }

  async function testEngine(e) {
    state.tests.set(e.name, { ok: true, text: `Testing ${e.name}…` });
    render();
    try {
      const t = await call('POST', `/api/v1/engines/${enc(e.name)}/test`);
      const parts = [t.status, t.latency_ms != null ? `${t.latency_ms} ms` : null,
        t.version ? `version ${t.version}` : null, t.ok ? null : t.detail].filter(Boolean);
      state.tests.set(e.name, { ok: t.ok, text: `Test: ${parts.join(' · ')}` });
    } catch (err) {
      state.tests.set(e.name, { ok: false, text: `Test failed: ${err.message}` });
    }
    announce(`${e.name}: ${state.tests.get(e.name).text}`);
    await load(); // the test is recorded as the engine's health
  }

  async function add() {
    if (await engineForm(null)) await load();
  }

  async function edit(e) {
    if (await engineForm(e)) await load();
  }

  async function setActive(e, active) {
    try {
      await call('PATCH', `/api/v1/engines/${enc(e.name)}`, { active });
      setText(problem, '');
      announce(`${e.name} is ${active ? 'active' : 'inactive'} now`);
    } catch (err) {
      setText(problem, `${e.name} could not be ${active ? 'activated' : 'deactivated'}: ${err.message}`);
    }
    await load();
  }

  async function remove(e) {
    const yes = await confirmDialog(`Delete ${e.name}?`,
      `The engine “${e.name}” and its encrypted API key will be removed from the registry. This cannot be undone.`,
      `Delete ${e.name}`);
    if (!yes) return;
    try {
      await call('DELETE', `/api/v1/engines/${enc(e.name)}`);
      state.tests.delete(e.name);
      setText(problem, '');
      announce(`${e.name} was deleted`);
    } catch (err) {
      setText(problem, `${e.name} could not be deleted: ${err.message}`);
    }
    await load();
  }

  render();
  load();
  const timer = setInterval(() => { if (!document.querySelector('dialog[open]')) load(); }, REFRESH_MS);
  return () => clearInterval(timer);
}
