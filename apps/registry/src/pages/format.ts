import { escapeHtml } from './escape.js';

/**
 * An ISO timestamp as `<time>` showing its UTC date; a value that is not a date is shown as given
 * (escaped) rather than as "Invalid Date".
 *
 * @example
 * formatDate('2025-03-04T10:00:00.000Z') // '<time datetime="2025-03-04T10:00:00.000Z">2025-03-04</time>'
 */
export function formatDate(iso: string | undefined): string {
  if (iso === undefined || iso === '') return '<span class="muted">—</span>';
  const time = Date.parse(iso);
  if (Number.isNaN(time)) return escapeHtml(iso);
  const utc = new Date(time).toISOString();
  return `<time datetime="${escapeHtml(utc)}" title="${escapeHtml(utc)}">${utc.slice(0, 10)}</time>`;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/**
 * A byte count in binary units, one decimal above bytes.
 *
 * @example
 * formatBytes(1536) // '1.5 KiB'
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/**
 * A count with thousands separators, independent of the server's locale.
 *
 * @example
 * formatCount(12345) // '12,345'
 */
export function formatCount(count: number): string {
  return Number.isFinite(count) ? Math.trunc(count).toLocaleString('en-US') : '—';
}

/**
 * `n thing` / `n things`.
 *
 * @example
 * plural(1, 'plugin') // '1 plugin'
 */
export function plural(count: number, noun: string, nouns = `${noun}s`): string {
  return `${formatCount(count)} ${count === 1 ? noun : nouns}`;
}
