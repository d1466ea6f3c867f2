// Overview: totals, error rate, latency and TTFT percentiles, four charts (requests, spend, input and output tokens)
// per hour or per day, split by key or model, and the top keys and models of the range.
import { t } from './i18n.js';
import { api } from './api.js';
import { h, replace, table } from './dom.js';
import * as f from './format.js';
import { bucketStarts, chartTable, errorColor, otherColor, palette, secondaryColor, timeChart } from './charts.js';

const DAY_MS = 86_400_000;
const RANGES = ['24h', '7d', '30d', 'custom'];
const SPLITS = ['total', 'key', 'model'];

function utcMidnight(date) {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
}

function dateInput(date) {
  return date.toISOString().slice(0, 10);
}

/** since, until and the bucket of a range; null when a custom range is not valid. */
export function rangeOf(state, now = new Date()) {
  // The API's ranges end before `until`, and times go to it in whole seconds: end at the next second, so a request
  // made in this very second is already in the figures.
  const end = new Date(Math.floor(now.getTime() / 1000) * 1000 + 1000);
  switch (state.range) {
    case '7d':
      return { since: new Date(utcMidnight(now).getTime() - 6 * DAY_MS), until: end, bucket: 'day' };
    case '30d':
      return { since: new Date(utcMidnight(now).getTime() - 29 * DAY_MS), until: end, bucket: 'day' };
    case 'custom': {
      const since = new Date(`${state.from}T00:00:00Z`);
      const until = new Date(new Date(`${state.to}T00:00:00Z`).getTime() + DAY_MS);
      if (Number.isNaN(since.getTime()) || Number.isNaN(until.getTime()) || until <= since || until - since > 400 * DAY_MS) {
        return null;
      }
      return { since, until, bucket: until - since <= 2 * DAY_MS ? 'hour' : 'day' };
    }
    default:
      return { since: new Date(now.getTime() - DAY_MS), until: end, bucket: 'hour' };
  }
}

/** The key label in a group such as "alice (rk_live_abc)", for a link to the usage page. */
export function labelOf(group) {
  return /\((rk_live_[A-Za-z0-9]+)\)$/.exec(group)?.[1] ?? null;
}

function segmented(name, options, current, onSelect) {
  const group = h('div', { class: 'segmented', role: 'group', 'aria-label': name });
  for (const [value, label] of options) {
    group.append(h('button', {
      type: 'button',
      class: 'segment',
      'aria-pressed': String(value === current),
      dataset: { value },
      onclick: () => {
        for (const b of group.children) {
          b.setAttribute('aria-pressed', String(b.dataset.value === value));
        }
        onSelect(value);
      },
    }, label));
  }
  return group;
}

function kpi(id, label, pair = false) {
  const value = h('div', { class: ['kpi-value', pair ? 'kpi-pair' : null], dataset: { kpi: id } }, '…');
  const sub = h('div', { class: 'kpi-sub' });
  return { card: h('section', { class: 'card kpi', 'aria-label': label }, h('h3', { class: 'kpi-label' }, label), value, sub), value, sub };
}

export function render(view, params) {
  const now = new Date();
  const state = {
    range: RANGES.includes(params.get('range')) ? params.get('range') : '24h',
    from: params.get('from') ?? dateInput(new Date(now.getTime() - 6 * DAY_MS)),
    to: params.get('to') ?? dateInput(now),
    by: SPLITS.includes(params.get('by')) ? params.get('by') : 'total',
  };
  let controller = null;
  let disposers = [];

  const fromInput = h('input', { type: 'date', value: state.from, 'aria-label': t('range.from') });
  const toInput = h('input', { type: 'date', value: state.to, 'aria-label': t('range.to') });
  const custom = h('form', { class: 'custom-range', hidden: state.range !== 'custom' },
    h('label', null, h('span', null, t('range.from')), fromInput),
    h('label', null, h('span', null, t('range.to')), toInput),
    h('button', { type: 'submit', class: 'btn btn-primary' }, t('common.apply')));
  custom.addEventListener('submit', (event) => {
    event.preventDefault();
    state.from = fromInput.value;
    state.to = toInput.value;
    load();
  });

  const rangePicker = segmented(t('range.label'), RANGES.map((r) => [r, t('range.' + r)]), state.range, (value) => {
    state.range = value;
    custom.hidden = value !== 'custom';
    if (value !== 'custom') {
      load();
    } else {
      fromInput.focus();
    }
  });
  const splitPicker = segmented(t('split.label'), SPLITS.map((s) => [s, t('split.' + s)]), state.by, (value) => {
    state.by = value;
    load(true);
  });
  const refresh = h('button', { type: 'button', class: 'btn btn-icon', title: t('common.retry'), 'aria-label': t('common.retry'), onclick: () => load() }, '↻');

  const notice = h('div', { class: 'banner banner-error', role: 'alert', hidden: true });
  const rangeText = h('p', { class: 'muted range-text' });
  const cards = {
    requests: kpi('requests', t('kpi.requests')),
    errorRate: kpi('error-rate', t('kpi.errorRate')),
    spend: kpi('spend', t('kpi.spend')),
    input: kpi('input-tokens', t('kpi.input')),
    output: kpi('output-tokens', t('kpi.output')),
    latency: kpi('latency', t('kpi.latency')),
    ttft: kpi('ttft', t('kpi.ttft')),
  };
  const chartCards = {};
  for (const id of ['requests', 'spend', 'input', 'output']) {
    const plot = h('div', { class: 'chart-plot' });
    const empty = h('div', { class: 'chart-empty', hidden: true }, t('common.noData'));
    const per = h('span', { class: 'muted chart-per' });
    const data = h('div', { class: 'chart-table' });
    chartCards[id] = { plot, empty, per, data, card: h('section', { class: 'card chart-card', dataset: { chart: id } },
      h('header', { class: 'card-head' }, h('h3', null, t('chart.' + id)), per),
      h('div', { class: 'chart-host' }, plot, empty),
      data) };
  }
  const topKeys = h('div');
  const topModels = h('div');

  replace(view,
    h('div', { class: 'page-head' },
      h('h1', null, t('overview.title')),
      h('div', { class: 'toolbar' }, rangePicker, splitPicker, refresh)),
    custom,
    notice,
    rangeText,
    h('div', { class: 'kpis' }, Object.values(cards).map((c) => c.card)),
    h('div', { class: 'charts' }, Object.values(chartCards).map((c) => c.card)),
    h('div', { class: 'two-col' },
      h('section', { class: 'card' }, h('header', { class: 'card-head' }, h('h3', null, t('top.keys'))), topKeys),
      h('section', { class: 'card' }, h('header', { class: 'card-head' }, h('h3', null, t('top.models'))), topModels)));

  function remember() {
    const query = new URLSearchParams({ range: state.range });
    if (state.range === 'custom') {
      query.set('from', state.from);
      query.set('to', state.to);
    }
    if (state.by !== 'total') {
      query.set('by', state.by);
    }
    history.replaceState(null, '', '#/overview?' + query);
  }

  async function load(seriesOnly = false) {
    const range = rangeOf(state);
    if (!range) {
      notice.textContent = t('range.invalid');
      notice.hidden = false;
      return;
    }
    remember();
    controller?.abort();
    controller = new AbortController();
    const signal = controller.signal;
    notice.hidden = true;
    view.setAttribute('aria-busy', 'true');
    const query = { since: f.iso(range.since), until: f.iso(range.until) };
    rangeText.textContent = `${f.dateTimeUtc(range.since)} – ${f.dateTimeUtc(range.until)} UTC`;
    try {
      const [stats, series] = await Promise.all([
        seriesOnly ? null : api('GET', '/usage/stats', { query, signal }),
        api('GET', '/usage/series', { query: { ...query, bucket: range.bucket, by: state.by, limit: 10 }, signal }),
      ]);
      if (stats) {
        showStats(stats);
      }
      showSeries(series, range);
      view.dataset.loaded = String(Date.now());
    } catch (e) {
      if (e?.name !== 'AbortError') {
        notice.textContent = t('common.error', { message: e.message });
        notice.hidden = false;
      }
    } finally {
      if (!signal.aborted) {
        view.removeAttribute('aria-busy');
      }
    }
  }

  function showStats(stats) {
    cards.requests.value.textContent = f.int(stats.requests);
    cards.requests.sub.textContent = t('kpi.errors', { count: f.int(stats.errors) });
    cards.errorRate.value.textContent = f.rate(stats.error_rate);
    cards.errorRate.value.classList.toggle('bad', (stats.error_rate ?? 0) >= 0.05);
    cards.errorRate.sub.textContent = t('kpi.errors', { count: f.int(stats.errors) });
    cards.spend.value.textContent = f.usdMicros(stats.cost_micros);
    cards.spend.value.title = `$${stats.cost_usd}`;
    cards.input.value.textContent = f.int(stats.input_tokens);
    cards.input.sub.textContent = t('kpi.cached', { count: f.int(stats.cached_input_tokens) });
    cards.output.value.textContent = f.int(stats.output_tokens);
    cards.output.sub.textContent = t('kpi.reasoning', { count: f.int(stats.reasoning_tokens) });
    cards.latency.value.textContent = f.ms(stats.latency_ms?.p50);
    cards.latency.sub.textContent = t('kpi.p95', { value: f.ms(stats.latency_ms?.p95) });
    cards.ttft.value.textContent = f.ms(stats.ttft_ms?.p50);
    cards.ttft.sub.textContent = t('kpi.p95', { value: f.ms(stats.ttft_ms?.p95) });

    const topTable = (rows, kind) => table({
      className: 'top-table',
      columns: [{ label: t(kind === 'key' ? 'col.key' : 'col.model') }, { label: t('col.requests'), class: 'num' }, { label: t('col.cost'), class: 'num' }],
      rows: (rows ?? []).map((row) => {
        const target = kind === 'key' ? labelOf(row.group) : row.group !== 'other' && row.group !== '(unknown)' ? row.group : null;
        const name = target
          ? h('a', { href: '#/usage?' + new URLSearchParams({ [kind]: target }) }, row.group)
          : h('span', null, row.group);
        return [name, f.int(row.requests), f.usdMicros(row.cost_micros)];
      }),
      empty: t('top.empty'),
    });
    replace(topKeys, topTable(stats.top_keys, 'key'));
    replace(topModels, topTable(stats.top_models, 'model'));
  }

  function showSeries(response, range) {
    for (const dispose of disposers) {
      dispose();
    }
    disposers = [];
    const xs = bucketStarts(range.since, range.until, range.bucket);
    const index = new Map(xs.map((x, i) => [x, i]));
    const groups = response.groups?.length ? response.groups : state.by === 'total' ? ['total'] : [];
    const column = (group, field, scale = 1) => {
      const values = new Array(xs.length).fill(0);
      for (const row of response.data ?? []) {
        const i = index.get(Date.parse(row.start) / 1000);
        if (row.group === group && i !== undefined) {
          values[i] += row[field] / scale;
        }
      }
      return values;
    };
    const colorOf = (group, i) => (group === 'other' ? otherColor : palette[i % palette.length]);
    const split = (field, scale) => groups.map((g, i) => ({ label: g, values: column(g, field, scale), color: colorOf(g, i) }));
    const total = state.by === 'total';
    const money = (v) => f.usdMicros(Math.round(v * 1_000_000));
    const definitions = {
      requests: {
        series: total
          ? [{ label: t('series.requests'), values: column('total', 'requests'), color: palette[0] }, { label: t('series.errors'), values: column('total', 'errors'), color: errorColor }]
          : split('requests'),
        format: f.int, axisFormat: f.short, integer: true,
      },
      spend: {
        series: total ? [{ label: t('series.spend'), values: column('total', 'cost_micros', 1_000_000), color: '#16a34a' }] : split('cost_micros', 1_000_000),
        format: money, axisFormat: money,
      },
      input: {
        series: total
          ? [{ label: t('series.input'), values: column('total', 'input_tokens'), color: palette[0] }, { label: t('series.cached'), values: column('total', 'cached_input_tokens'), color: secondaryColor }]
          : split('input_tokens'),
        format: f.int, axisFormat: f.short, integer: true,
      },
      output: {
        series: total
          ? [{ label: t('series.output'), values: column('total', 'output_tokens'), color: '#9333ea' }, { label: t('series.reasoning'), values: column('total', 'reasoning_tokens'), color: '#d8b4fe' }]
          : split('output_tokens'),
        format: f.int, axisFormat: f.short, integer: true,
      },
    };
    for (const [id, def] of Object.entries(definitions)) {
      const card = chartCards[id];
      card.per.textContent = t(range.bucket === 'day' ? 'chart.perDay' : 'chart.perHour');
      card.plot.replaceChildren();
      const empty = def.series.every((s) => s.values.every((v) => v === 0));
      card.empty.hidden = !empty;
      disposers.push(timeChart(card.plot, { xs, series: def.series, bucket: range.bucket, format: def.format, axisFormat: def.axisFormat, integer: def.integer, kind: total ? 'bars' : 'lines' }));
      replace(card.data, chartTable(xs, def.series, range.bucket, def.format));
    }
  }

  load();
  return () => {
    controller?.abort();
    for (const dispose of disposers) {
      dispose();
    }
  };
}
