// login.js: the log-in form. A good log-in stores the token for this tab (api.js) and
// hands the user to the app.
import { call, session } from './api.js';
import { h, fill } from './dom.js';

export function showLogin(main, onLoggedIn, notice) {
  const user = h('input', { id: 'login-user', name: 'username', autocomplete: 'username', required: true });
  const pass = h('input', {
    id: 'login-pass', name: 'password', type: 'password', autocomplete: 'current-password', required: true,
  });
  const msg = h('p', { class: 'error', role: 'alert', id: 'login-error' }, notice ? '' : null);
  const button = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  const form = h('form', { class: 'login card', novalidate: true },
    h('h1', {}, 'wfreg'),
    h('p', { class: 'muted' }, 'The workflow engine registry'),
    notice ? h('p', { class: 'notice', role: 'status' }, notice) : null,
    h('label', { for: 'login-user' }, 'Username'), user,
    h('label', { for: 'login-pass' }, 'Password'), pass,
    msg, button);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!user.value || !pass.value) {
      fill(msg, 'Enter a username and a password.');
      return;
    }
    button.disabled = true;
    fill(msg);
    try {
      const t = await call('POST', '/api/v1/auth/login', { username: user.value, password: pass.value },
        { auth: false });
      session.set({ token: t.token, expires_at: t.expires_at });
      const me = await call('GET', '/api/v1/auth/me');
      session.set({ token: t.token, expires_at: t.expires_at, username: me.username, role: me.role });
      onLoggedIn();
    } catch (e) {
      fill(msg, e.status === 401 ? 'Wrong username or password.' : e.message);
      pass.select();
    } finally {
      button.disabled = false;
    }
  });
  fill(main, form);
  user.focus();
}
