// The console's shell: reads the session (and its CSRF token), then routes by hash to a page module. Each page's
// render(view, params) builds its DOM and may return a function that stops its timers and requests.
import { applyI18n, t } from './i18n.js';
import { signOut, startSession } from './api.js';
import * as overview from './overview.js';
import * as keys from './keys.js';
import * as usage from './usage.js';
import * as live from './live.js';

const routes = { '/overview': overview, '/keys': keys, '/usage': usage, '/live': live };
const view = document.getElementById('view');
const nav = document.getElementById('nav');
const toggle = document.getElementById('nav-toggle');
let cleanup = null;

applyI18n();

function setMenu(open) {
  nav.classList.toggle('open', open);
  toggle.setAttribute('aria-expanded', String(open));
}

function route() {
  const hash = location.hash.slice(1);
  const split = hash.indexOf('?');
  const path = split < 0 ? hash : hash.slice(0, split);
  const params = new URLSearchParams(split < 0 ? '' : hash.slice(split + 1));
  const page = routes[path];
  if (!page) {
    location.replace('#/overview');
    return;
  }
  try {
    cleanup?.();
  } finally {
    cleanup = null;
  }
  for (const link of nav.querySelectorAll('a[data-route]')) {
    if (link.dataset.route === path) {
      link.setAttribute('aria-current', 'page');
    } else {
      link.removeAttribute('aria-current');
    }
  }
  setMenu(false);
  const name = t('nav.' + path.slice(1));
  document.title = `${name} · ${t('app.title')}`;
  view.replaceChildren();
  view.dataset.page = path.slice(1);
  delete view.dataset.loaded;
  cleanup = page.render(view, params) ?? null;
}

toggle.addEventListener('click', () => setMenu(!nav.classList.contains('open')));
document.getElementById('sign-out').addEventListener('click', () => signOut());
window.addEventListener('hashchange', route);

startSession().then((session) => {
  document.getElementById('sign-out').title = t('session.until', { time: new Date(session.expiresAt).toISOString().slice(0, 16).replace('T', ' ') });
  route();
});
