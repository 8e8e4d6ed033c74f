// workflows.js: the workflows of every active engine in one list (or of one engine,
// active or not), filtered by engine and by text; an engine that cannot answer is an
// error row and the others still show. Admins can start a run and watch its status
// until it ends.
import { allEngines, call, enc } from './api.js';
import { h, fill, setText, announce, keepFocus } from './dom.js';

const POLL_MS = 1000;
const POLL_MAX = 600; // a run is watched for 10 minutes at most
const RETRIES = 5; // an engine that does not answer this many times in a row ends the watch
const FINAL = new Set(['succeeded', 'failed', 'cancelled']);

// A workflow's identity: Windmill can have a flow and a script at the same path.
const keyOf = (w) => `${w.engine}\n${w.kind || ''}\n${w.id}`;

export function showWorkflows({ main, admin }, params) {
  const state = { items: [], errors: [], engine: params.get('engine') || '', q: '', runs: new Map(), loaded: false };
  let left = false;
  const engineSel = h('select', { id: 'filter-engine' }, h('option', { value: '' }, 'All active engines'));
  const search = h('input', { id: 'filter-q', type: 'search', autocomplete: 'off', placeholder: 'part of a name or id' });
  const count = h('p', { class: 'count' });
  const problem = h('p', { class: 'error', role: 'alert' });
  const body = h('tbody');
  const reload = h('button', { type: 'button', onclick: () => load() }, 'Reload');

  engineSel.addEventListener('change', () => {
    location.hash = engineSel.value ? `#/workflows?engine=${enc(engineSel.value)}` : '#/workflows';
  });
  search.addEventListener('input', () => { state.q = search.value.trim().toLowerCase(); render(); });

  const heading = h('h1', { tabindex: -1 }, 'Workflows');
  fill(main,
    h('div', { class: 'bar' }, heading, count, reload),
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

  let newest = 0; // only the newest load's answer is shown (Reload clicked twice)
  async function load() {
    const mine = ++newest;
    state.loaded = false;
    render();
    try {
      const q = state.engine ? `?engine=${enc(state.engine)}` : '';
      const res = await call('GET', `/api/v1/workflows${q}`);
      if (mine !== newest) return;
      state.items = res.items;
      state.errors = res.errors;
      setText(problem, '');
    } catch (e) {
      if (mine !== newest) return;
      state.items = [];
      state.errors = [];
      if (e.status !== 401) setText(problem, `The workflows could not be loaded: ${e.message}`);
    }
    state.loaded = true;
    render();
  }

  function render() {
    keepFocus(body, renderRows, heading);
  }

  function renderRows() {
    const q = state.q;
    const shown = state.items.filter((w) => !q || String(w.name).toLowerCase().includes(q)
      || String(w.id).toLowerCase().includes(q));
    setText(count, state.loaded ? `${shown.length} of ${state.items.length} workflows` : 'Loading…');
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
    const key = keyOf(w);
    const run = state.runs.get(key);
    return h('tr', { dataset: { engine: w.engine, workflow: w.id, kind: w.kind || '' } },
      h('td', { 'data-label': 'Engine' }, w.engine),
      h('th', { scope: 'row', 'data-label': 'Name' }, w.name),
      h('td', { 'data-label': 'ID', class: 'mono' }, w.id),
      h('td', { 'data-label': 'Active' }, w.active ? 'yes' : 'no'),
      h('td', { 'data-label': 'Run' },
        admin ? h('button', { type: 'button', onclick: () => start(w), disabled: run && !run.final,
          'aria-label': `Run ${w.name} on ${w.engine}`, dataset: { key: `run\n${key}` } }, 'Run') : null,
        run ? h('span', { class: `run ${run.status}` }, ` ${run.text}`) : null));
  }

  // final: the watch is over (the Run button comes back); said once through the live region
  function setRun(w, status, text, final = FINAL.has(status) || status === 'error') {
    const key = keyOf(w);
    const before = state.runs.get(key);
    state.runs.set(key, { status, final, text });
    if (!before || before.text !== text) announce(`${w.name} on ${w.engine}: ${text}`);
    render();
  }

  async function start(w) {
    setRun(w, 'starting', 'starting…', false);
    const kind = w.kind === 'flow' || w.kind === 'script' ? `?kind=${w.kind}` : '';
    let run;
    try {
      run = await call('POST', `/api/v1/engines/${enc(w.engine)}/workflows/${enc(w.id)}/runs${kind}`, {});
    } catch (e) {
      setRun(w, 'error', `could not start: ${e.message}`);
      return;
    }
    if (!run.run_id) { // started, but the engine gives nothing to follow (n8n, at times)
      setRun(w, run.status, `started; ${run.detail || 'the engine gives no run id to follow'}`, true);
      return;
    }
    const says = (r) => `${r.status} (run ${r.run_id})`
      + (FINAL.has(r.status) && r.status !== 'succeeded' && r.detail ? `: ${r.detail}` : '');
    setRun(w, run.status, says(run));
    let misses = 0;
    for (let i = 0; i < POLL_MAX && !FINAL.has(run.status); i++) {
      await new Promise((r) => { setTimeout(r, POLL_MS); });
      if (left) return;
      try {
        run = await call('GET', `/api/v1/engines/${enc(w.engine)}/runs/${enc(run.run_id)}`);
        misses = 0;
      } catch (e) {
        // an engine that does not answer once (502, 504) is asked again, as the CLI does
        if ((e.status === 502 || e.status === 504 || e.status === 0) && ++misses < RETRIES) continue;
        setRun(w, 'error', `status unknown: ${e.message}`);
        return;
      }
      setRun(w, run.status, says(run));
    }
    if (!FINAL.has(run.status)) setRun(w, run.status, `still ${run.status} after ${POLL_MAX * POLL_MS / 60000} minutes; no longer watched`, true);
  }

  loadEngines();
  load();
  return () => { left = true; };
}
