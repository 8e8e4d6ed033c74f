// engine_form.js: the add and edit form, in a modal. It sends what the API takes and
// shows the API's 422 messages next to the fields they name. The API key is write-only:
// the form says whether one is set, can replace or remove it, and never shows it.
import { call, enc } from './api.js';
import { h, fill, modal } from './dom.js';

const TYPES = ['n8n', 'prefect', 'windmill'];

// Resolves true when the engine was saved. engine: null to add one.
export function engineForm(engine) {
  const editing = !!engine;
  return modal(editing ? `Edit ${engine.name}` : 'Add engine', (close) => {
    const errors = new Map(); // field -> its message element
    const field = (name, label, input, hint) => {
      const id = `f-${name}`;
      input.id = id;
      input.name = name;
      const err = h('p', { class: 'field-error', id: `${id}-error` });
      errors.set(name, { err, input });
      input.setAttribute('aria-describedby', `${id}-error${hint ? ` ${id}-hint` : ''}`);
      return h('div', { class: 'field' },
        h('label', { for: id }, label), input,
        hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null, err);
    };

    const name = h('input', { value: editing ? engine.name : '', autocomplete: 'off', required: true,
      spellcheck: 'false' });
    const type = h('select', {}, TYPES.map((t) => h('option', { value: t, selected: editing && engine.engine_type === t }, t)));
    // type="text", not "url": the browser's own URL check would hide the API's message
    const url = h('input', { value: editing ? engine.api_url : '', inputmode: 'url', autocomplete: 'off',
      spellcheck: 'false', placeholder: 'https://n8n.example.com' });
    const key = h('input', { type: 'password', autocomplete: 'new-password', spellcheck: 'false' });
    const removeKey = h('input', { type: 'checkbox', id: 'f-remove-key' });
    const active = h('input', { type: 'checkbox', checked: editing ? engine.active : true });
    const config = h('textarea', { rows: 3, spellcheck: 'false', placeholder: '{"workspace": "demo"}' },
      editing && engine.config && Object.keys(engine.config).length ? JSON.stringify(engine.config, null, 2) : '');
    const formError = h('p', { class: 'error', role: 'alert' });
    const save = h('button', { type: 'submit', class: 'primary' }, editing ? 'Save' : 'Add engine');

    const keyState = editing ? h('p', { class: 'key-state', id: 'f-key-state' },
      `API key: ${engine.has_api_key ? 'set' : 'not set'}`) : null;
    removeKey.addEventListener('change', () => { key.disabled = removeKey.checked; });
    const describeKey = () => { // after field(): the key's state is read with its field
      if (keyState) key.setAttribute('aria-describedby', `f-key-state ${key.getAttribute('aria-describedby')}`);
    };

    const form = h('form', { class: 'engine-form', novalidate: true },
      field('name', 'Name', name, 'Lowercase letters, digits, \'-\', \'_\' and \'.\', starting with a letter or a digit.'),
      field('engine_type', 'Type', type),
      field('api_url', 'API URL', url),
      keyState,
      field('api_key', editing ? 'New API key' : 'API key', key,
        editing ? 'Leave empty to keep the key as it is.' : 'Stored encrypted; never shown again.'),
      editing && engine.has_api_key ? h('div', { class: 'check' }, removeKey,
        h('label', { for: 'f-remove-key' }, 'Remove the key')) : null,
      h('div', { class: 'check' }, active, h('label', { for: 'f-active' }, 'Active')),
      field('config', 'Config (JSON object)', config, 'Windmill needs {"workspace": "…"}; optional: timeout_ms, verify_tls.'),
      formError,
      h('div', { class: 'actions' }, save, h('button', { type: 'button', onclick: () => close(false) }, 'Cancel')));
    active.id = 'f-active';
    describeKey();

    const show = (fields, message) => {
      for (const [, f] of errors) { fill(f.err); f.input.removeAttribute('aria-invalid'); }
      fill(formError);
      let first = null;
      for (const [fname, msg] of fields) {
        const f = errors.get(fname) || errors.get(fname.split('.')[0]);
        if (!f) { fill(formError, formError.textContent ? `${formError.textContent}; ` : '', `${fname}: ${msg}`); continue; }
        fill(f.err, f.err.textContent ? `${f.err.textContent}; ${msg}` : msg);
        f.input.setAttribute('aria-invalid', 'true');
        first = first || f.input;
      }
      if (message) fill(formError, message);
      if (first) first.focus();
    };

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const text = config.value.trim();
      let cfg = {};
      if (text) {
        try { cfg = JSON.parse(text); } catch (e) { show(new Map([['config', `must be valid JSON: ${e.message}`]])); return; }
      }
      // An edit sends only what changed: a field this user did not touch keeps what the
      // server has (another admin may have changed it meanwhile), and a legacy name that
      // today's rules would refuse can stay as it is.
      const wanted = { name: name.value.trim(), engine_type: type.value, api_url: url.value.trim(), active: active.checked,
        config: cfg };
      const body = {};
      for (const [k, v] of Object.entries(wanted)) {
        const was = editing ? engine[k] ?? (k === 'config' ? {} : undefined) : undefined;
        if (!editing || JSON.stringify(v) !== JSON.stringify(was)) body[k] = v;
      }
      if (removeKey.checked) body.api_key = null;
      else if (key.value) body.api_key = key.value;
      if (editing && !Object.keys(body).length) { close(false); return; }
      save.disabled = true;
      try {
        if (editing) await call('PATCH', `/api/v1/engines/${enc(engine.name)}`, body);
        else await call('POST', '/api/v1/engines', body);
        key.value = '';
        close(true);
      } catch (e) {
        if (e.fields.size) show(e.fields);
        else if (e.status === 409) show(new Map([['name', e.message]]));
        else show(new Map(), e.message);
      } finally {
        save.disabled = false;
      }
    });
    return form;
  }).then((saved) => saved === true);
}
