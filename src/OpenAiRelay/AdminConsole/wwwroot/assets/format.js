// Numbers, money, durations and dates in the interface's locale. Every time is shown in UTC, as the API and the CLI
// give them, so a bucket of the charts and a row of the table mean the same hour everywhere.
import { locale } from './i18n.js';

const integer = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat(locale, { notation: 'compact', maximumFractionDigits: 1 });
const percent = new Intl.NumberFormat(locale, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 2 });
const milliseconds = new Intl.NumberFormat(locale, { style: 'unit', unit: 'millisecond', unitDisplay: 'short', maximumFractionDigits: 0 });
const seconds = new Intl.NumberFormat(locale, { style: 'unit', unit: 'second', unitDisplay: 'short', maximumFractionDigits: 2 });
const tenSeconds = new Intl.NumberFormat(locale, { style: 'unit', unit: 'second', unitDisplay: 'short', maximumFractionDigits: 0 });
const minutes = new Intl.NumberFormat(locale, { style: 'unit', unit: 'minute', unitDisplay: 'short', maximumFractionDigits: 0 });
const usdCache = new Map();

function usdFormat(digits) {
  if (!usdCache.has(digits)) {
    usdCache.set(digits, new Intl.NumberFormat(locale, { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: digits }));
  }
  return usdCache.get(digits);
}

export const dash = '—';

export function int(value) {
  return value === null || value === undefined ? dash : integer.format(value);
}

export function short(value) {
  return value === null || value === undefined ? dash : compact.format(value);
}

/** Micro-dollars as money: whole cents from $1, more digits below that so a small spend never reads $0.00. */
export function usdMicros(micros) {
  if (micros === null || micros === undefined) {
    return dash;
  }
  const abs = Math.abs(micros);
  return usdFormat(abs >= 1_000_000 ? 2 : abs >= 10_000 ? 4 : 6).format(micros / 1_000_000);
}

/** Dollars (a JSON number of the keys API) as money. */
export function usd(dollars) {
  return dollars === null || dollars === undefined ? dash : usdMicros(Math.round(dollars * 1_000_000));
}

export function rate(value) {
  return value === null || value === undefined ? dash : percent.format(value);
}

export function ms(value) {
  if (value === null || value === undefined) {
    return dash;
  }
  return value < 1000 ? milliseconds.format(value) : value < 10_000 ? seconds.format(value / 1000) : value < 120_000 ? tenSeconds.format(value / 1000) : minutes.format(value / 60_000);
}

const dateTime = new Intl.DateTimeFormat(locale, { timeZone: 'UTC', year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const dateTimeSeconds = new Intl.DateTimeFormat(locale, { timeZone: 'UTC', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
const dateOnly = new Intl.DateTimeFormat(locale, { timeZone: 'UTC', year: 'numeric', month: 'short', day: 'numeric' });
const dayMonth = new Intl.DateTimeFormat(locale, { timeZone: 'UTC', month: 'short', day: 'numeric' });
const hourMinute = new Intl.DateTimeFormat(locale, { timeZone: 'UTC', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const clock = new Intl.DateTimeFormat(locale, { timeZone: 'UTC', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });

function parse(value) {
  return value instanceof Date ? value : new Date(value);
}

export function dateTimeUtc(value) {
  return value ? dateTime.format(parse(value)) : dash;
}

export function dateTimeSecondsUtc(value) {
  return value ? dateTimeSeconds.format(parse(value)) : dash;
}

export function dateUtc(value) {
  return value ? dateOnly.format(parse(value)) : dash;
}

export function clockUtc(value) {
  return clock.format(parse(value));
}

/** A bucket's start for a chart axis or legend: "14:00" (with the day at midnight) for hours, "5 Dec" for days. */
export function bucketLabel(date, bucket, withDay = false) {
  if (bucket === 'day') {
    return dayMonth.format(date);
  }
  return withDay || date.getUTCHours() === 0 ? `${dayMonth.format(date)} ${hourMinute.format(date)}` : hourMinute.format(date);
}

/** ISO 8601 UTC without milliseconds, as the admin API takes them. */
export function iso(date) {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
