import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount, formatDate, plural } from './format.js';

describe('formatDate', () => {
  it('shows the UTC date and keeps the full time in the attributes', () => {
    expect(formatDate('2025-03-04T23:30:00.000Z')).toBe(
      '<time datetime="2025-03-04T23:30:00.000Z" title="2025-03-04T23:30:00.000Z">2025-03-04</time>',
    );
    // Offsets are normalised to UTC, so the shown date is the UTC one.
    expect(formatDate('2025-03-05T01:30:00+02:00')).toContain('>2025-03-04</time>');
  });

  it('shows a value that is not a date as escaped text, and a missing one as a dash', () => {
    expect(formatDate('"><b>')).toBe('&quot;&gt;&lt;b&gt;');
    expect(formatDate(undefined)).toBe('<span class="muted">—</span>');
    expect(formatDate('')).toBe('<span class="muted">—</span>');
  });
});

describe('formatBytes / formatCount / plural', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [5 * 1024 * 1024, '5.0 MiB'],
    [3 * 1024 ** 3, '3.0 GiB'],
    [2 * 1024 ** 5, '2048.0 TiB'],
    [-1, '—'],
    [Number.NaN, '—'],
  ])('formatBytes(%d) = %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it('groups thousands whatever the server locale', () => {
    expect(formatCount(1234567)).toBe('1,234,567');
    expect(formatCount(0)).toBe('0');
    expect(formatCount(Number.POSITIVE_INFINITY)).toBe('—');
  });

  it('picks singular or plural', () => {
    expect(plural(1, 'plugin')).toBe('1 plugin');
    expect(plural(0, 'plugin')).toBe('0 plugins');
    expect(plural(2500, 'match', 'matches')).toBe('2,500 matches');
  });
});
