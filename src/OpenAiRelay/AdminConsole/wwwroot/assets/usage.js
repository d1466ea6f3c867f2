// Usage: the ledger's rows, newest first, filtered by key, model, outcome and time, a page at a time (the API's
// next_cursor), and the same selection as a CSV download.
import { t } from './i18n.js';
import { api, url } from './api.js';
import { h, replace, table } from './dom.js';
import * as f from './format.js';

export const OUTCOMES = ['completed', 'in_flight', 'client_cancelled', 'upstream_error', 'timeout', 'rejected', 'interrupted', 'background'];
const PAGE_SIZES = ['50', '100', '250', '1000'];

/** A datetime-local value (no zone) read as UTC, and back. */
function toInput(value) {
  const date = value ? new Date(value) : null;
  return date && !Number.isNaN(date.getTime()) ? date.toISOString().slice(0, 16) : '';
}

function fromInput(value) {
  return value ? f.iso(new Date(value + ':00Z')) : '';
}

export function render(view, params) {
  const filters = {
    key: params.get('key') ?? '',
    model: params.get('model') ?? '',
    outcome: OUTCOMES.includes(params.get('outcome')) ? params.get('outcome') : '',
    since: params.get('since') ?? f.iso(new Date(Date.now() - 86_400_000)),
    until: params.get('until') ?? '',
    limit: PAGE_SIZES.includes(params.get('limit')) ? params.get('limit') : '100',
  };
  let cursors = [null];
  let controller = null;

  const keySelect = h('select', { id: 'filter-key' }, h('option', { value: '' }, t('filter.allKeys')));
  if (filters.key) {
    keySelect.append(h('option', { value: filters.key, selected: true }, filters.key));
  }
  const modelInput = h('input', { id: 'filter-model', type: 'text', value: filters.model, list: 'models-seen', placeholder: t('filter.modelPlaceholder'), spellcheck: 'false', autocapitalize: 'off', maxlength: '256' });
  const models = h('datalist', { id: 'models-seen' });
  const outcomeSelect = h('select', { id: 'filter-outcome' },
    h('option', { value: '' }, t('filter.anyOutcome')),
    OUTCOMES.map((o) => h('option', { value: o, selected: o === filters.outcome }, t('outcome.' + o))));
  const sinceInput = h('input', { id: 'filter-since', type: 'datetime-local', value: toInput(filters.since) });
  const untilInput = h('input', { id: 'filter-until', type: 'datetime-local', value: toInput(filters.until) });
  const sizeSelect = h('select', { id: 'filter-limit' }, PAGE_SIZES.map((s) => h('option', { value: s, selected: s === filters.limit }, s)));
  const labelled = (id, label, input) => h('div', { class: 'field' }, h('label', { for: id }, label), input);
  const form = h('form', { class: 'card filters', role: 'search' },
    labelled('filter-key', t('filter.key'), keySelect),
    labelled('filter-model', t('filter.model'), modelInput),
    labelled('filter-outcome', t('filter.outcome'), outcomeSelect),
    labelled('filter-since', t('filter.from'), sinceInput),
    labelled('filter-until', t('filter.to'), untilInput),
    labelled('filter-limit', t('filter.pageSize'), sizeSelect),
    h('div', { class: 'filter-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary' }, t('common.apply')),
      h('button', { type: 'button', class: 'btn', onclick: reset }, t('common.reset'))),
    models);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    filters.key = keySelect.value;
    filters.model = modelInput.value.trim();
    filters.outcome = outcomeSelect.value;
    filters.since = fromInput(sinceInput.value);
    filters.until = fromInput(untilInput.value);
    filters.limit = sizeSelect.value;
    cursors = [null];
    load();
  });

  const csv = h('a', { class: 'btn', download: '', id: 'export-csv' }, '⤓ ', t('usage.export'));
  const notice = h('div', { class: 'banner banner-error', role: 'alert', hidden: true });
  const results = h('div', { class: 'card card-flush' }, h('p', { class: 'loading' }, t('common.loading')));
  const newer = h('button', { type: 'button', class: 'btn', onclick: () => { cursors.pop(); load(); } }, '← ', t('usage.newer'));
  const older = h('button', { type: 'button', class: 'btn', onclick: null }, t('usage.older'), ' →');
  let nextCursor = null;
  older.addEventListener('click', () => {
    if (nextCursor) {
      cursors.push(nextCursor);
      load();
    }
  });
  const pageInfo = h('span', { class: 'muted' });
  const pager = h('div', { class: 'pager' }, newer, pageInfo, older);

  replace(view,
    h('div', { class: 'page-head' }, h('h1', null, t('usage.title')), h('div', { class: 'toolbar' }, csv)),
    form,
    notice,
    results,
    pager,
    h('p', { class: 'muted footnote' }, t('common.utc')));

  function reset() {
    keySelect.value = '';
    modelInput.value = '';
    outcomeSelect.value = '';
    sinceInput.value = toInput(new Date(Date.now() - 86_400_000));
    untilInput.value = '';
    sizeSelect.value = '100';
    form.requestSubmit();
  }

  function query() {
    return { key: filters.key, model: filters.model, outcome: filters.outcome, since: filters.since, until: filters.until };
  }

  function remember() {
    const q = new URLSearchParams();
    for (const [name, value] of Object.entries({ ...query(), limit: filters.limit === '100' ? '' : filters.limit })) {
      if (value) {
        q.set(name, value);
      }
    }
    history.replaceState(null, '', '#/usage' + (q.size ? '?' + q : ''));
    csv.href = url('/usage/rows', { ...query(), format: 'csv' });
  }

  async function load() {
    remember();
    controller?.abort();
    controller = new AbortController();
    const signal = controller.signal;
    view.setAttribute('aria-busy', 'true');
    notice.hidden = true;
    try {
      const page = await api('GET', '/usage/rows', { query: { ...query(), limit: filters.limit, before: cursors.at(-1) }, signal });
      nextCursor = page.next_cursor ?? null;
      draw(page.data ?? []);
      view.dataset.loaded = String(Date.now());
    } catch (e) {
      if (e?.name === 'AbortError') {
        return;
      }
      notice.textContent = t('common.error', { message: e.message });
      notice.hidden = false;
      results.replaceChildren();
    } finally {
      if (!signal.aborted) {
        view.removeAttribute('aria-busy');
      }
    }
  }

  function tokens(value, estimated) {
    return estimated ? h('span', { class: 'estimated', title: t('usage.estimated') }, '≈ ', f.int(value)) : f.int(value);
  }

  function draw(rows) {
    const columns = [
      { label: t('col.time') }, { label: t('col.key') }, { label: t('col.model') }, { label: t('col.endpoint') },
      { label: t('col.httpStatus'), class: 'num' }, { label: t('col.outcome') }, { label: t('col.input'), class: 'num' },
      { label: t('col.cached'), class: 'num' }, { label: t('col.output'), class: 'num' }, { label: t('col.reasoning'), class: 'num' },
      { label: t('col.cost'), class: 'num' }, { label: t('col.latency'), class: 'num' }, { label: t('col.ttft'), class: 'num' },
      { label: t('col.requestId') },
    ];
    replace(results, table({
      className: 'usage-table',
      columns,
      rows: rows.map((row) => ({
        attrs: { dataset: { requestId: row.request_id }, class: row.estimated ? 'estimated-row' : null },
        cells: [
          h('span', { class: 'nowrap' }, f.dateTimeSecondsUtc(row.started_at)),
          h('span', { title: row.key_label ?? '' }, row.key ?? row.key_label ?? f.dash),
          h('span', { class: 'model' }, row.model ?? f.dash),
          h('code', { class: 'endpoint' }, `${row.method ?? ''} ${row.endpoint ?? ''}`.trim()),
          h('span', { class: ['status', row.status >= 400 ? 'bad' : null] }, row.status ?? f.dash),
          h('span', { class: ['badge', 'outcome-' + row.outcome] }, OUTCOMES.includes(row.outcome) ? t('outcome.' + row.outcome) : String(row.outcome ?? f.dash)),
          tokens(row.input_tokens, row.estimated),
          f.int(row.cached_input_tokens),
          tokens(row.output_tokens, row.estimated),
          f.int(row.reasoning_tokens),
          row.cost_micros === null || row.cost_micros === undefined ? h('span', { class: 'muted' }, t('usage.unpriced')) : f.usdMicros(row.cost_micros),
          f.ms(row.latency_ms),
          f.ms(row.ttft_ms),
          h('code', { class: 'request-id' }, row.request_id),
        ],
      })),
      empty: t('usage.empty'),
    }));
    newer.disabled = cursors.length <= 1;
    older.disabled = !nextCursor;
    pageInfo.textContent = `${t('usage.page', { page: cursors.length })} · ${t('usage.shown', { count: f.int(rows.length) })}`;
  }

  async function loadChoices() {
    try {
      const [keys, usage] = await Promise.all([
        api('GET', '/keys'),
        api('GET', '/usage', { query: { by: 'model', since: f.iso(new Date(Date.now() - 30 * 86_400_000)) } }),
      ]);
      const current = keySelect.value;
      keySelect.replaceChildren(h('option', { value: '' }, t('filter.allKeys')));
      for (const key of keys.data ?? []) {
        const text = `${key.name} (${key.label})`;
        keySelect.append(h('option', { value: key.key_id, selected: key.key_id === current || key.name === current || key.label === current },
          key.status === 'active' ? text : t('filter.revoked', { name: text })));
      }
      models.replaceChildren(...(usage.data ?? []).map((row) => h('option', { value: row.group })));
    } catch {
      // The filters still work by hand.
    }
  }

  loadChoices();
  load();
  return () => controller?.abort();
}
