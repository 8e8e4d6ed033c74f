// dom.js: builds elements without ever parsing HTML, so a name or a message from the
// API is always text on the page, never markup (the page's Content-Security-Policy would
// stop an injected script anyway; this stops injected markup too).

// h('button', {class: 'x', onclick: f, 'aria-label': 'y'}, 'text', child, ...)
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' || k === 'checked' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// Sets el's text only when it changes: a live region that is rewritten with the same
// words would be read out again.
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
  return el;
}

// Says text once through the page's one live region (index.html's #announce).
export function announce(text) {
  const region = document.getElementById('announce');
  if (region) region.textContent = text;
}

// Runs render(), which rebuilds what container holds, and puts the keyboard focus back
// on the element with the same data-key (the same button of the same row), so that a
// refresh or an action does not throw a keyboard user back to the top of the page. When
// that element is gone (its row was deleted), focus goes to fallback.
export function keepFocus(container, render, fallback) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset.key : undefined;
  render();
  if (!key) return;
  const again = [...container.querySelectorAll('[data-key]')].find((el) => el.dataset.key === key);
  if (again) again.focus();
  else if (fallback) fallback.focus();
}

// Replaces what el holds with children.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// "3 min ago" for an ISO time, the exact time in the title attribute's worth.
export function ago(iso, now = Date.now()) {
  if (!iso) return 'never';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(t).toLocaleString();
}

// A modal dialog (the browser's own <dialog>: focus moves in, Escape closes it, the page
// behind cannot be clicked, focus returns where it was). Resolves with what close(value)
// was given, or null (Escape, or closeDialogs()).
export function modal(title, build) {
  return new Promise((resolve) => {
    const heading = h('h2', { id: 'dialog-title' }, title);
    const dlg = h('dialog', { 'aria-labelledby': 'dialog-title' }, heading);
    let result = null;
    const close = (value) => { result = value; dlg.close(); };
    dlg.append(build(close));
    dlg.addEventListener('close', () => { dlg.remove(); resolve(result); });
    document.body.append(dlg);
    dlg.showModal();
  });
}

// Asks a yes/no question in a modal; resolves true for yes. Cancel has the focus, so a
// stray Enter does not answer yes.
export async function confirmDialog(title, text, yesLabel) {
  const answer = await modal(title, (close) => h('div', {},
    h('p', {}, text),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'danger', onclick: () => close(true) }, yesLabel),
      h('button', { type: 'button', autofocus: true, onclick: () => close(false) }, 'Cancel'))));
  return answer === true;
}

// Closes every open dialog (the session ended: the log-in form must be usable).
export function closeDialogs() {
  for (const d of document.querySelectorAll('dialog[open]')) d.close();
}
