// Time charts drawn by uPlot (vendor/uPlot.iife.min.js, the global uPlot): one metric per chart, buckets of an hour
// or a day in UTC, with the empty buckets filled with zeros. Below each chart a table of the same numbers.
import { t } from './i18n.js';
import { bucketLabel } from './format.js';
import { h } from './dom.js';

export const palette = ['#2563eb', '#f97316', '#16a34a', '#9333ea', '#0891b2', '#db2777', '#ca8a04', '#4f46e5', '#65a30d', '#dc2626'];
export const otherColor = '#94a3b8';
export const errorColor = '#dc2626';
export const secondaryColor = '#93c5fd';

const HOUR = 3600;
const DAY = 86400;

function cssVar(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

/** Every bucket start (seconds) from the bucket holding since up to until, exclusive. */
export function bucketStarts(since, until, bucket) {
  const step = (bucket === 'day' ? DAY : HOUR) * 1000;
  const starts = [];
  for (let x = Math.floor(since.getTime() / step) * step; x < until.getTime(); x += step) {
    starts.push(x / 1000);
  }
  return starts;
}

function integerIncrements() {
  const incrs = [];
  for (let p = 1; p <= 1e12; p *= 10) {
    incrs.push(p, 2 * p, 5 * p);
  }
  return incrs;
}

/**
 * Draws a chart into host. xs: bucket starts in seconds. series: [{label, values, color, secondary}]. format: value →
 * legend text; axisFormat: value → axis text; integer: whole-number axis; kind: 'bars' (nested, for a total and its
 * part) or 'lines' (one per group). Returns a function that removes it.
 */
export function timeChart(host, { xs, series, bucket, format, axisFormat, integer = false, kind = 'bars' }) {
  const U = globalThis.uPlot;
  const height = host.clientWidth < 480 ? 180 : 220;
  const axisColor = cssVar('--muted', '#64748b');
  const gridColor = cssVar('--grid', '#e2e8f0');
  const step = bucket === 'day' ? DAY : HOUR;
  const bars = kind === 'bars' && U.paths?.bars;
  const font = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
  const axisSize = (u, values) => {
    const longest = Math.max(0, ...(values ?? []).map((v) => String(v).length));
    return Math.max(36, Math.ceil(longest * 7 + 14));
  };

  const options = {
    width: Math.max(200, host.clientWidth),
    height,
    tzDate: (ts) => U.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    cursor: { drag: { x: false, y: false, setScale: false }, points: { size: 7 } },
    legend: { live: true },
    padding: [12, 8, 0, 0],
    scales: {
      x: { time: true, range: (u, min, max) => [(min ?? 0) - (bars ? step / 2 : 0), (max ?? 0) + (bars ? step / 2 : 0)] },
      y: { range: (u, min, max) => U.rangeNum(0, max > 0 ? max : 1, 0.1, true) },
    },
    axes: [
      {
        stroke: axisColor,
        font,
        grid: { stroke: gridColor, width: 1 },
        ticks: { stroke: gridColor, width: 1, size: 4 },
        space: 64,
        incrs: bucket === 'day' ? [DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY] : [HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY],
        values: (u, splits) => splits.map((s) => bucketLabel(new Date(s * 1000), bucket)),
      },
      {
        stroke: axisColor,
        font,
        grid: { stroke: gridColor, width: 1 },
        ticks: { show: false },
        size: axisSize,
        incrs: integer ? integerIncrements() : undefined,
        values: (u, splits) => splits.map((v) => axisFormat(v)),
      },
    ],
    series: [
      // Off the chart, the legend shows the range's totals; on it, the bucket under the cursor.
      { label: t('chart.time'), value: (u, v, si, i) => (i === null || i === undefined || v === null || v === undefined ? t('chart.total') : bucketLabel(new Date(v * 1000), bucket, true)) },
      ...series.map((s, i) => ({
        label: s.label,
        stroke: s.color,
        width: bars ? 0 : 2,
        fill: bars ? s.color : undefined,
        paths: bars ? U.paths.bars({ size: [i === 0 ? 0.72 : 0.72, 64], gap: 1 }) : undefined,
        points: { show: !bars && xs.length <= 48, size: 5, fill: s.color },
        value: (u, v, si, i) => (i === null || i === undefined ? format(s.values.reduce((a, b) => a + b, 0)) : v === null || v === undefined ? '—' : format(v)),
      })),
    ],
  };

  const chart = new U(options, [xs, ...series.map((s) => s.values)], host);
  let width = host.clientWidth;
  const observer = new ResizeObserver(() => {
    if (host.clientWidth !== width && host.clientWidth > 0) {
      width = host.clientWidth;
      chart.setSize({ width: Math.max(200, width), height });
    }
  });
  observer.observe(host);
  return () => {
    observer.disconnect();
    chart.destroy();
  };
}

/** The same numbers as a table (inside a closed <details>): one row per bucket, one column per series. */
export function chartTable(xs, series, bucket, format) {
  const head = h('tr', null, h('th', { scope: 'col' }, t('chart.time')), series.map((s) => h('th', { scope: 'col', class: 'num' }, s.label)));
  const rows = xs.map((x, i) => h('tr', null,
    h('th', { scope: 'row' }, bucketLabel(new Date(x * 1000), bucket, true)),
    series.map((s) => h('td', { class: 'num' }, format(s.values[i])))));
  return h('details', { class: 'chart-data' },
    h('summary', null, t('chart.table')),
    h('div', { class: 'table-wrap' }, h('table', { class: 'compact' }, h('thead', null, head), h('tbody', null, rows))));
}
