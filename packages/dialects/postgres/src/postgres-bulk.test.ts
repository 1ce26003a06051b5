import { ValueDecodeError } from '@cmpkg/core';
import { describe, expect, it } from 'vitest';
import { copyTextValue, postgresReadExpression } from './postgres-bulk.js';

describe('copyTextValue (COPY text format)', () => {
  it('writes NULL as \\N and an empty string as nothing', () => {
    expect(copyTextValue('text', null)).toBe('\\N');
    expect(copyTextValue('text', '')).toBe('');
  });

  it('escapes backslash, tab, newline and carriage return, and nothing else', () => {
    expect(copyTextValue('text', 'a\\b\tc\nd\re')).toBe('a\\\\b\\tc\\nd\\re');
    expect(copyTextValue('text', 'quote\' "dq" 😀 \u0001')).toBe('quote\' "dq" 😀 \u0001');
    // `\.` would end the data in COPY text; escaped, it is just a backslash and a dot.
    expect(copyTextValue('text', '\\.')).toBe('\\\\.');
    expect(copyTextValue('text', 'N')).toBe('N');
    expect(copyTextValue('text', '\\N')).toBe('\\\\N');
  });

  it('spells booleans t/f', () => {
    expect(copyTextValue('boolean', true)).toBe('t');
    expect(copyTextValue('boolean', false)).toBe('f');
  });

  it('writes numbers and 64-bit integers as digits, floats as PostgreSQL spells the special values', () => {
    expect(copyTextValue('integer', -42)).toBe('-42');
    expect(copyTextValue('bigint', 2n ** 63n - 1n)).toBe('9223372036854775807');
    expect(copyTextValue('double', 0.1 + 0.2)).toBe('0.30000000000000004');
    expect(copyTextValue('double', Number.NaN)).toBe('NaN');
    expect(copyTextValue('double', Number.POSITIVE_INFINITY)).toBe('Infinity');
    expect(copyTextValue('real', Number.NEGATIVE_INFINITY)).toBe('-Infinity');
    expect(copyTextValue('double', -0)).toBe('-0');
    expect(copyTextValue('decimal(10,2)', '-0.01')).toBe('-0.01');
  });

  it('writes bytes as bytea hex with the backslash doubled for COPY', () => {
    expect(copyTextValue('blob', Uint8Array.from([0, 1, 0xab, 0xff]))).toBe('\\\\x0001abff');
    expect(copyTextValue('blob', new Uint8Array(0))).toBe('\\\\x');
    // A view into a larger buffer writes only its own bytes.
    const view = new Uint8Array(Uint8Array.from([9, 1, 2, 9]).buffer, 1, 2);
    expect(copyTextValue('blob', view)).toBe('\\\\x0102');
  });

  it('passes dates, times and JSON text through (escaped)', () => {
    expect(copyTextValue('timestamptz', '2024-05-01T10:00:00.123456Z')).toBe('2024-05-01T10:00:00.123456Z');
    expect(copyTextValue('json', '{"a":"x\\ny"}')).toBe('{"a":"x\\\\ny"}');
  });

  it('writes vectors as array literals for REAL[] and as JSON for pgvector', () => {
    expect(copyTextValue('vector(3)', '[1, 2.5, -3e-7]')).toBe('{1,2.5,-3e-7}');
    expect(copyTextValue('vector(3)', '[1,2,3]', 'pgvector')).toBe('[1,2,3]');
    expect(() => copyTextValue('vector(3)', '{"a":1}')).toThrow(ValueDecodeError);
    expect(() => copyTextValue('vector(3)', '[1,"x"]')).toThrow(/array of numbers/);
    expect(() => copyTextValue('vector(3)', '[1,')).toThrow(/invalid JSON/);
  });
});

describe('postgresReadExpression', () => {
  it('reads times as text with microseconds, timestamptz in UTC', () => {
    expect(postgresReadExpression('"t"', 'timestamptz')).toBe(
      `to_char("t" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
    );
    expect(postgresReadExpression('"t"', 'timestamp')).toBe(`to_char("t", 'YYYY-MM-DD"T"HH24:MI:SS.US')`);
    expect(postgresReadExpression('"d"', 'date')).toBe(`to_char("d", 'YYYY-MM-DD')`);
  });

  it('reads JSON as text and vectors as a JSON array for either storage', () => {
    expect(postgresReadExpression('"j"', 'json')).toBe('"j"::text');
    expect(postgresReadExpression('"v"', 'vector(3)')).toBe('array_to_json("v")::text');
    expect(postgresReadExpression('"v"', 'vector(3)', 'pgvector')).toBe('"v"::text');
  });

  it('reads everything else as it is', () => {
    for (const type of ['bigint', 'decimal(10,2)', 'text', 'blob', 'uuid', 'boolean', 'real'] as const) {
      expect(postgresReadExpression('"c"', type)).toBe('"c"');
    }
  });
});
