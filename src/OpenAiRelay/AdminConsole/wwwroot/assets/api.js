// The admin API as the pages call it. The session cookie (HttpOnly) rides along by itself; the CSRF token comes from
// GET /admin/session and lives only in this module's memory, sent as X-Relay-CSRF on every state-changing call.
import { t } from './i18n.js';

let csrfToken = null;
let session = null;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function toLogin(reason) {
  csrfToken = null;
  location.replace('/admin/login' + (reason ? '#' + reason : ''));
}

/** Reads the live session (and its CSRF token); without one, goes to the sign-in page and never resolves. */
export async function startSession() {
  const response = await fetch('/admin/session', { headers: { Accept: 'application/json' }, cache: 'no-store' });
  if (!response.ok) {
    toLogin();
    return new Promise(() => {});
  }
  session = await response.json();
  csrfToken = session.csrf_token;
  return { expiresAt: session.expires_at, idleTimeoutSeconds: session.idle_timeout_seconds };
}

/** path is under /admin (e.g. "/keys"); query an object (empty values dropped); body JSON. */
export async function api(method, path, { query, body, signal } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
  }
  if (method !== 'GET' && method !== 'HEAD') {
    headers['X-Relay-CSRF'] = csrfToken ?? '';
  }
  let response;
  try {
    response = await fetch(url(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      signal,
    });
  } catch (e) {
    if (e?.name === 'AbortError') {
      throw e;
    }
    throw new ApiError(0, 'network', t('common.network'));
  }
  if (response.status === 401) {
    toLogin('expired');
    throw new ApiError(401, 'session', t('login.expired'));
  }
  if (response.status === 204) {
    return null;
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    const error = json?.error;
    const message = error?.message ?? (response.status === 403 ? t('common.forbidden') : `HTTP ${response.status}`);
    throw new ApiError(response.status, error?.code ?? null, message);
  }
  return json;
}

/** The URL of an admin path with a query string, for links (CSV export) as well as fetches. */
export function url(path, query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') {
      params.set(name, String(value));
    }
  }
  const search = params.toString();
  return '/admin' + path + (search ? '?' + search : '');
}

export async function signOut() {
  try {
    await fetch('/admin/session', { method: 'DELETE', headers: { 'X-Relay-CSRF': csrfToken ?? '' }, cache: 'no-store' });
  } finally {
    toLogin('signed-out');
  }
}
