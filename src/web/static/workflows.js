// workflows.js: the workflows of every active engine in one list (or of one engine,
// active or not), filtered by engine and by text; an engine that cannot answer is an
// error row and the others still show. Admins can start a run and watch its status
// until it ends.
import { allEngines, call, enc } from './api.js';
import { h, fill } from './dom.js';

const POLL_MS = 1000;
const POLL_MAX = 600; // a run is watched for 10 minutes at most
const FINAL = new Set(['succeeded', 'failed', 'cancelled']);

export function showWorkflows({ main, admin }, params) {
  const state = { items: [], errors: [], engine: params.get('engine') || '', q: '', runs: new Map(), loaded: false };
  let left = false;
  const engineSel = h('select', { id: 'filter-engine' }, h('option', { value: '' }, 'All active engines'));
  const search = h('input', { id: 'filter-q', type: 'search', autocomplete: 'off', placeholder: 'part of a name or id' });
  const count = h('p', { class: 'count', 'aria-live': 'polite' });
  const problem = h('p', { class: 'error', role: 'alert' });
  const body = h('tbody');
  const reload = h('button', { type: 'button', onclick: () => load() }, 'Reload');

  engineSel.addEventListener('change', () => {
    location.hash = engineSel.value ? `#/workflows?engine=${enc(engineSel.value)}` : '#/workflows';
  });
  search.addEventListener('input', () => { state.q = search.value.trim().toLowerCase(); render(); });

  fill(main,
    h('div', { class: 'bar' }, h('h1', {}, 'Workflows'), count, reload),
    h('div', { class: 'filters' },
      h('label', { for: 'filter-engine' }, 'Engine'), engineSel,
      h('label', { for: 'filter-q' }, 'Search'), search),
    problem,
    h('table', { class: 'grid workflows' },
      h('caption', { class: 'sr-only' }, 'Workflows'),
      h('thead', {}, h('tr', {}, ['Engine', 'Name', 'ID', 'Active', 'Run'].map((c) => h('th', { scope: 'col' }, c)))),
      body));

  async function loadEngines() {
    try {
      const engines = await allEngines();
      fill(engineSel, h('option', { value: '' }, 'All active engines'),
        engines.map((e) => h('option', { value: e.name, selected: e.name === state.engine },
          e.active ? e.name : `${e.name} (inactive)`)));
    } catch { /* the list below says what is wrong */ }
  }

  async function load() {
    state.loaded = false;
    render();
    try {
      const q = state.engine ? `?engine=${enc(state.engine)}` : '';
      const res = await call('GET', `/api/v1/workflows${q}`);
      state.items = res.items;
      state.errors = res.errors;
      fill(problem);
    } catch (e) {
      state.items = [];
      state.errors = [];
      if (e.status !== 401) fill(problem, `The workflows could not be loaded: ${e.message}`);
    }
    state.loaded = true;
    render();
  }

  function render() {
    const q = state.q;
    const shown = state.items.filter((w) => !q || String(w.name).toLowerCase().includes(q)
      || String(w.id).toLowerCase().includes(q));
    fill(count, state.loaded ? `${shown.length} of ${state.items.length} workflows` : 'Loading…');
    const rows = [
      ...state.errors.map((e) => h('tr', { class: 'error-row', dataset: { engine: e.engine } },
        h('td', { 'data-label': 'Engine' }, e.engine),
        h('td', { colspan: 4, 'data-label': 'Error' }, `${e.engine} cannot list its workflows: ${e.status}${e.detail ? ` — ${e.detail}` : ''}`))),
      ...shown.map(row),
    ];
    fill(body, rows.length ? rows : h('tr', {}, h('td', { colspan: 5, class: 'empty' },
      state.loaded ? (state.items.length ? 'No workflow matches.' : 'No workflows.') : 'Loading…')));
  }

  function row(w) {
    const key = `${w.engine}\n${w.id}`;
    const run = state.runs.get(key);
    return h('tr', { dataset: { engine: w.engine, workflow: w.id } },
      h('td', { 'data-label': 'Engine' }, w.engine),
      h('th', { scope: 'row', 'data-label': 'Name' }, w.name),
      h('td', { 'data-label': 'ID', class: 'mono' }, w.id),
      h('td', { 'data-label': 'Active' }, w.active ? 'yes' : 'no'),
      h('td', { 'data-label': 'Run' },
        admin ? h('button', { type: 'button', onclick: () => start(w), disabled: run && !run.final,
          'aria-label': `Run ${w.name} on ${w.engine}` }, 'Run') : null,
        run ? h('span', { class: `run ${run.status}`, role: 'status' }, ` ${run.text}`) : null));
  }

  function setRun(key, status, text) {
    state.runs.set(key, { status, final: FINAL.has(status) || status === 'error', text });
    render();
  }

  async function start(w) {
    const key = `${w.engine}\n${w.id}`;
    setRun(key, 'starting', 'starting…');
    const kind = w.kind === 'flow' || w.kind === 'script' ? `?kind=${w.kind}` : '';
    let run;
    try {
      run = await call('POST', `/api/v1/engines/${enc(w.engine)}/workflows/${enc(w.id)}/runs${kind}`, {});
    } catch (e) {
      setRun(key, 'error', `could not start: ${e.message}`);
      return;
    }
    setRun(key, run.status, `${run.status} (run ${run.run_id})`);
    for (let i = 0; i < POLL_MAX && !left && !FINAL.has(run.status); i++) {
      await new Promise((r) => { setTimeout(r, POLL_MS); });
      if (left) return;
      try {
        run = await call('GET', `/api/v1/engines/${enc(w.engine)}/runs/${enc(run.run_id)}`);
      } catch (e) {
        setRun(key, 'error', `status unknown: ${e.message}`);
        return;
      }
      setRun(key, run.status, `${run.status} (run ${run.run_id})`);
    }
    if (FINAL.has(run.status) && run.status !== 'succeeded' && run.detail) setRun(key, run.status, `${run.status}: ${run.detail}`);
  }

  loadEngines();
  load();
  return () => { left = true; };
}
