// The sign-in page: the admin token goes once to POST /admin/session, which answers with a session cookie (HttpOnly,
// never readable here). The token is never stored: not in storage, not in a cookie, not in the URL.
import { applyI18n, t } from './i18n.js';

applyI18n();
document.title = `${t('login.title')} · ${t('app.title')}`;

const form = document.getElementById('login-form');
const input = document.getElementById('token');
const error = document.getElementById('login-error');
const submit = document.getElementById('login-submit');
const notice = document.getElementById('login-notice');

const reason = location.hash === '#signed-out' ? 'login.signedOut' : location.hash === '#expired' ? 'login.expired' : null;
if (reason) {
  notice.textContent = t(reason);
  notice.hidden = false;
  history.replaceState(null, '', location.pathname);
}

function showError(text) {
  error.textContent = text;
  error.hidden = false;
  input.setAttribute('aria-invalid', 'true');
  input.focus();
  input.select();
}

// Already signed in (a second tab, the back button): straight to the console.
fetch('/admin/session', { headers: { Accept: 'application/json' }, cache: 'no-store' })
  .then((response) => {
    if (response.ok) {
      location.replace('/admin/#/overview');
    }
  })
  .catch(() => {});

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  error.hidden = true;
  input.removeAttribute('aria-invalid');
  const token = input.value.trim();
  if (!token) {
    showError(t('login.empty'));
    return;
  }

  submit.disabled = true;
  submit.textContent = t('login.busy');
  try {
    const response = await fetch('/admin/session', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ token }),
      cache: 'no-store',
    });
    if (response.ok) {
      input.value = '';
      location.replace('/admin/#/overview');
      return;
    }

    if (response.status === 429) {
      const seconds = Number.parseInt(response.headers.get('Retry-After') ?? '', 10);
      showError(t('login.throttled', { seconds: Number.isFinite(seconds) ? seconds : 60 }));
    } else if (response.status === 401) {
      showError(t('login.wrong'));
    } else {
      showError(t('login.failed', { status: response.status }));
    }
  } catch {
    showError(t('login.network'));
  } finally {
    submit.disabled = false;
    submit.textContent = t('login.submit');
  }
});

input.focus();
