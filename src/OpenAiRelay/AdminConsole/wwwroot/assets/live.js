// Live: what this instance is serving now, from GET /admin/live every 2 seconds (no reload; paused while the tab is
// hidden or on request).
import { t } from './i18n.js';
import { api } from './api.js';
import { h, replace, table } from './dom.js';
import * as f from './format.js';

const INTERVAL_MS = 2000;

export function render(view) {
  let timer = null;
  let stopped = false;
  let paused = false;
  let controller = null;

  const counter = (id, label) => {
    const value = h('div', { class: 'kpi-value', dataset: { live: id } }, '…');
    return { value, card: h('section', { class: 'card kpi' }, h('h3', { class: 'kpi-label' }, label), value) };
  };
  const counters = { inFlight: counter('in-flight', t('live.inFlight')), sse: counter('sse', t('live.sse')), websocket: counter('websocket', t('live.websocket')) };
  const dot = h('span', { class: 'pulse', 'aria-hidden': 'true' });
  const status = h('span', { class: 'live-status-text' });
  const pause = h('button', { type: 'button', class: 'btn', 'aria-pressed': 'false' }, t('live.pause'));
  const notice = h('div', { class: 'banner banner-error', role: 'alert', hidden: true }, t('live.lost'));
  const more = h('p', { class: 'muted', hidden: true });
  const list = h('div', { class: 'card card-flush' }, h('p', { class: 'loading' }, t('common.loading')));
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.setAttribute('aria-pressed', String(paused));
    pause.textContent = t(paused ? 'live.resume' : 'live.pause');
    dot.classList.toggle('paused', paused);
    if (paused) {
      status.textContent = t('live.paused');
    } else {
      schedule(0);
    }
  });

  replace(view,
    h('div', { class: 'page-head' },
      h('h1', null, t('live.title')),
      h('div', { class: 'toolbar' }, h('span', { class: 'live-status', role: 'status' }, dot, status), pause)),
    h('p', { class: 'muted' }, t('live.note')),
    notice,
    h('div', { class: 'kpis kpis-3' }, Object.values(counters).map((c) => c.card)),
    list,
    more);

  function schedule(delay) {
    clearTimeout(timer);
    timer = setTimeout(tick, delay);
  }

  async function tick() {
    if (stopped) {
      return;
    }
    if (!paused && !document.hidden) {
      controller = new AbortController();
      try {
        draw(await api('GET', '/live', { signal: controller.signal }));
        notice.hidden = true;
        dot.classList.remove('lost');
      } catch (e) {
        if (e?.name === 'AbortError' || stopped) {
          return;
        }
        notice.hidden = false;
        dot.classList.add('lost');
      }
    }
    if (!stopped && !paused) {
      schedule(INTERVAL_MS);
    }
  }

  function draw(live) {
    counters.inFlight.value.textContent = f.int(live.requests_in_flight);
    counters.sse.value.textContent = f.int(live.streams?.sse ?? 0);
    counters.websocket.value.textContent = f.int(live.streams?.websocket ?? 0);
    status.textContent = t('live.updated', { time: f.clockUtc(live.now ?? new Date()) });
    const requests = live.requests ?? [];
    more.hidden = requests.length >= live.requests_in_flight;
    more.textContent = t('live.shown', { shown: f.int(requests.length), total: f.int(live.requests_in_flight) });
    replace(list, table({
      className: 'live-table',
      columns: [
        { label: t('col.started') }, { label: t('col.elapsed'), class: 'num' }, { label: t('col.key') }, { label: t('col.method') },
        { label: t('col.endpoint') }, { label: t('col.model') }, { label: t('col.stream') }, { label: t('col.requestId') },
      ],
      rows: requests.map((r) => ({
        attrs: { dataset: { requestId: r.request_id } },
        cells: [
          h('span', { class: 'nowrap' }, f.dateTimeSecondsUtc(r.started_at)),
          f.ms(r.elapsed_ms),
          r.key ?? f.dash,
          r.method ?? f.dash,
          h('code', { class: 'endpoint' }, r.endpoint ?? ''),
          h('span', { class: 'model' }, r.model ?? f.dash),
          r.stream && r.stream !== 'none' ? h('span', { class: 'badge badge-stream' }, t('stream.' + r.stream)) : t('stream.none'),
          h('code', { class: 'request-id' }, r.request_id),
        ],
      })),
      empty: t('live.empty'),
    }));
    view.dataset.loaded = String(Date.now());
  }

  const visibility = () => {
    if (!document.hidden && !paused) {
      schedule(0);
    }
  };
  document.addEventListener('visibilitychange', visibility);
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
    controller?.abort();
    document.removeEventListener('visibilitychange', visibility);
  };
}
