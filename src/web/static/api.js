// api.js: the page's only way to the server: the JSON API with a bearer token.
// The token is kept in sessionStorage (this tab only, gone when it closes), never in a
// cookie, so no other site can make the browser send it: writes need the header, which
// only this page's script sets.

const STORE = 'wfreg.session';

export class ApiError extends Error {
  // status: HTTP status (0 when the server could not be reached); fields: Map of field
  // name ("api_url", "config.workspace") to message, from a 422's list.
  constructor(status, message, fields = new Map()) {
    super(message);
    this.status = status;
    this.fields = fields;
  }
}

export const session = {
  get() {
    try {
      const s = JSON.parse(sessionStorage.getItem(STORE) || 'null');
      if (!s || !s.token) return null;
      if (s.expires_at && Date.parse(s.expires_at) <= Date.now()) return null;
      return s;
    } catch {
      return null;
    }
  },
  set(s) { sessionStorage.setItem(STORE, JSON.stringify(s)); },
  clear() { sessionStorage.removeItem(STORE); },
};

// Told when the server no longer takes the token (expired, logged out elsewhere).
let onExpired = () => {};
export function whenExpired(fn) { onExpired = fn; }

// FastAPI's error shapes: {"detail": "text"} or {"detail": [{loc, msg, type}, ...]}.
function toError(status, body) {
  const detail = body && body.detail;
  if (Array.isArray(detail)) {
    const fields = new Map();
    for (const d of detail) {
      const loc = (d.loc || []).filter((p) => p !== 'body' && p !== 'query');
      const name = loc.join('.') || 'body';
      if (!fields.has(name)) fields.set(name, d.msg);
    }
    const text = [...fields].map(([f, m]) => `${f}: ${m}`).join('; ');
    return new ApiError(status, text || 'the request was refused', fields);
  }
  return new ApiError(status, typeof detail === 'string' ? detail : `HTTP ${status}`);
}

// Calls the API; resolves with the parsed body (null for 204), rejects with ApiError.
export async function call(method, path, body, { auth = true } = {}) {
  const headers = { Accept: 'application/json' };
  const s = session.get();
  if (auth && s) headers.Authorization = `Bearer ${s.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit', cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'the server cannot be reached');
  }
  let data = null;
  if (res.status !== 204) {
    try { data = await res.json(); } catch { data = null; }
  }
  if (res.ok) return data;
  const err = toError(res.status, data);
  if (res.status === 429) {
    const wait = res.headers.get('Retry-After');
    if (wait) err.message += ` (try again in ${wait} s)`;
  }
  if (res.status === 401 && auth) {
    session.clear();
    onExpired();
  }
  throw err;
}

export const enc = encodeURIComponent;

// Every engine, page by page (the API gives at most 500 at once).
export async function allEngines() {
  const items = [];
  for (let offset = 0, pages = 0; pages < 1000; pages++) {
    const page = await call('GET', `/api/v1/engines?limit=500&offset=${offset}`);
    items.push(...page.items);
    offset += page.items.length;
    if (!page.items.length || offset >= page.total) break;
  }
  return items;
}
