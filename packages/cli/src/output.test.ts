import { UsageError } from '@cmpkg/core';
import { describe, expect, it } from 'vitest';
import {
  colorEnabled,
  formatBytes,
  formatDuration,
  formatTable,
  Output,
  stripAnsi,
  toJsonError,
} from './output.js';

describe('formatTable', () => {
  it('aligns columns, without trailing spaces', () => {
    const lines = formatTable(
      [
        ['0001_init', '1.0.0', 'applied'],
        ['0002_add_tags', '1.10.0', 'pending'],
      ],
      { header: ['ID', 'VERSION', 'STATE'] },
    );
    expect(lines).toEqual([
      'ID             VERSION  STATE',
      '0001_init      1.0.0    applied',
      '0002_add_tags  1.10.0   pending',
    ]);
  });

  it('measures cells without their colour codes', () => {
    const lines = formatTable([
      ['\u001b[32mok\u001b[39m', 'x'],
      ['long', 'y'],
    ]);
    expect(lines.map(stripAnsi)).toEqual(['ok    x', 'long  y']);
  });
});

describe('colour', () => {
  it('is off with NO_COLOR, off on pipes, on with FORCE_COLOR', () => {
    expect(colorEnabled({ write() {}, isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled({ write() {}, isTTY: true }, {})).toBe(true);
    expect(colorEnabled({ write() {} }, {})).toBe(false);
    expect(colorEnabled({ write() {} }, { FORCE_COLOR: '1' })).toBe(true);
    expect(colorEnabled({ write() {}, isTTY: true }, { TERM: 'dumb' })).toBe(false);
  });
});

describe('Output', () => {
  it('writes errors as one line, and exactly one JSON document', () => {
    let stdout = '';
    let stderr = '';
    const out = new Output(
      { stdout: { write: (s) => (stdout += s) }, stderr: { write: (s) => (stderr += s) }, env: {} },
      true,
      false,
    );
    out.line('human text is dropped in --json mode');
    out.error(new UsageError('bad thing\non two lines'));
    out.emitJson({ second: true });
    expect(stderr).toBe('error[E_USAGE]: bad thing on two lines\n');
    expect(JSON.parse(stdout)).toEqual({
      ok: false,
      error: {
        name: 'UsageError',
        code: 'E_USAGE',
        category: 'input',
        message: 'bad thing\non two lines',
        details: {},
      },
    });
  });

  it('prints a stack only when verbose', () => {
    let stderr = '';
    const io = { stdout: { write: () => true }, stderr: { write: (s: string) => (stderr += s) }, env: {} };
    new Output(io, false, false).error(new Error('boom'));
    expect(stderr).toBe('error[E_INTERNAL]: boom\n');
    stderr = '';
    new Output(io, false, true).error(new Error('boom'));
    expect(stderr).toContain('output.test.ts');
  });
});

describe('helpers', () => {
  it('formats durations', () => {
    expect(formatDuration(12.4)).toBe('12 ms');
    expect(formatDuration(1500)).toBe('1.5 s');
    expect(formatDuration(125_000)).toBe('2 min 5 s');
  });
  it('formats byte counts with one decimal below 10 and the rounded value deciding the unit', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1000)).toBe('1.0 kB');
    expect(formatBytes(3240)).toBe('3.2 kB');
    expect(formatBytes(9960)).toBe('10 kB');
    expect(formatBytes(999_499)).toBe('999 kB');
    expect(formatBytes(999_999)).toBe('1.0 MB');
    expect(formatBytes(1_400_000)).toBe('1.4 MB');
  });

  it('turns anything into a JSON error', () => {
    expect(toJsonError(new RangeError('x'))).toMatchObject({
      code: 'E_INTERNAL',
      category: 'failure',
      message: 'x',
    });
  });
});
