// app.js: the admin page's entry point. Shows the log-in form or the app, routes by the
// URL's hash (#/engines, #/workflows?engine=NAME), and ends the session when the API
// stops taking its token (it expired, or the user logged out in another tab).
import { call, session, whenExpired } from './api.js';
import { h, fill, closeDialogs } from './dom.js';
import { showLogin } from './login.js';
import { showEngines } from './engines.js';
import { showWorkflows } from './workflows.js';

const main = document.getElementById('main');
const top = document.getElementById('top');
let leaveView = null; // stops the current view's timers
let expiryTimer = null;

function route() {
  const s = session.get();
  if (!s) return logIn();
  if (leaveView) leaveView();
  const [path, query] = (location.hash.slice(1) || '/engines').split('?');
  const params = new URLSearchParams(query || '');
  const view = path === '/workflows' ? 'workflows' : 'engines';
  for (const a of top.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === view) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${view === 'workflows' ? 'Workflows' : 'Engines'} · wfreg`;
  const ctx = { main, admin: s.role === 'admin' };
  leaveView = view === 'workflows' ? showWorkflows(ctx, params) : showEngines(ctx);
  return undefined;
}

function startApp() {
  const s = session.get();
  top.hidden = false;
  fill(document.getElementById('who'), `${s.username} (${s.role})`);
  clearTimeout(expiryTimer);
  const left = Date.parse(s.expires_at) - Date.now();
  if (left > 0 && left < 2 ** 31) expiryTimer = setTimeout(() => logIn('Your session has expired; log in again.'), left);
  route();
}

function logIn(notice) {
  if (leaveView) leaveView();
  leaveView = null;
  closeDialogs(); // a form left open would sit over the log-in form
  clearTimeout(expiryTimer);
  session.clear();
  top.hidden = true;
  document.title = 'Log in · wfreg';
  showLogin(main, startApp, notice);
}

whenExpired(() => logIn('Your session has ended; log in again.'));

document.getElementById('logout').addEventListener('click', async () => {
  try { await call('POST', '/api/v1/auth/logout'); } catch { /* gone already: same result */ }
  logIn('You have logged out.');
});

window.addEventListener('hashchange', () => { if (session.get()) route(); });

// A reload keeps the session (sessionStorage) if the server still takes the token. When
// the server cannot say (it is restarting, the database is away: 503), the token is kept
// and the user can try again; only a 401 ends the session.
async function boot() {
  const s = session.get();
  if (!s) return logIn();
  try {
    const me = await call('GET', '/api/v1/auth/me');
    session.set({ ...s, username: me.username, role: me.role });
    return startApp();
  } catch (e) {
    if (e.status === 401) return undefined; // whenExpired shows the log-in form
    const retry = h('button', { type: 'button', class: 'primary', onclick: () => boot() }, 'Try again');
    fill(main, h('div', { class: 'card login' },
      h('h1', {}, 'wfreg'),
      h('p', { class: 'error', role: 'alert' }, `The server cannot be asked right now: ${e.message}`),
      retry));
    retry.focus();
    return undefined;
  }
}

boot();
