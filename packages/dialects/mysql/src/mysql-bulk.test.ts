import { DataTransferError } from '@cmpkg/core';
import { describe, expect, it } from 'vitest';
import { mysqlLiteral, mysqlReadExpression } from './mysql-bulk.js';

describe('mysqlLiteral', () => {
  it('writes NULL, booleans as 1/0, numbers and 64-bit integers as digits', () => {
    expect(mysqlLiteral('text', null)).toBe('NULL');
    expect(mysqlLiteral('boolean', true)).toBe('1');
    expect(mysqlLiteral('boolean', false)).toBe('0');
    expect(mysqlLiteral('integer', -7)).toBe('-7');
    expect(mysqlLiteral('bigint', -(2n ** 63n))).toBe('-9223372036854775808');
    expect(mysqlLiteral('double', 1e-300)).toBe('1e-300');
  });

  it('refuses NaN and infinities with E_DATA (MySQL cannot store them)', () => {
    for (const n of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const err = (() => {
        try {
          mysqlLiteral('double', n);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(DataTransferError);
      expect((err as DataTransferError).code).toBe('E_DATA');
    }
  });

  it('writes bytes as hex literals', () => {
    expect(mysqlLiteral('blob', Uint8Array.from([0, 0x27, 0x5c, 0xff]))).toBe("X'00275cff'");
    expect(mysqlLiteral('blob', new Uint8Array(0))).toBe("X''");
    const view = new Uint8Array(Uint8Array.from([9, 1, 2, 9]).buffer, 1, 2);
    expect(mysqlLiteral('blob', view)).toBe("X'0102'");
  });

  it('quotes strings with backslash escapes, or only doubled quotes under NO_BACKSLASH_ESCAPES', () => {
    expect(mysqlLiteral('text', "it's a\\b \0 😀")).toBe("'it''s a\\\\b \\0 😀'");
    expect(mysqlLiteral('text', "it's a\\b", true)).toBe("'it''s a\\b'");
    expect(mysqlLiteral('decimal(10,2)', '-0.01')).toBe("'-0.01'");
    expect(mysqlLiteral('json', '{"a":"\\n"}')).toBe(`'{"a":"\\\\n"}'`);
  });

  it('writes dates and times without T and Z (the session is UTC)', () => {
    expect(mysqlLiteral('timestamptz', '2024-05-01T10:20:30.123456Z')).toBe("'2024-05-01 10:20:30.123456'");
    expect(mysqlLiteral('timestamp', '2024-05-01T10:20:30')).toBe("'2024-05-01 10:20:30'");
    expect(mysqlLiteral('date', '2024-02-29')).toBe("'2024-02-29'");
    // A text column keeps its T and Z.
    expect(mysqlLiteral('text', '2024-05-01T10:20:30Z')).toBe("'2024-05-01T10:20:30Z'");
  });
});

describe('mysqlReadExpression', () => {
  it('formats times with microseconds, timestamptz marked Z', () => {
    expect(mysqlReadExpression('`t`', 'timestamp')).toBe("DATE_FORMAT(`t`, '%Y-%m-%dT%H:%i:%s.%f')");
    expect(mysqlReadExpression('`t`', 'timestamptz')).toBe("DATE_FORMAT(`t`, '%Y-%m-%dT%H:%i:%s.%fZ')");
    expect(mysqlReadExpression('`d`', 'date')).toBe("DATE_FORMAT(`d`, '%Y-%m-%d')");
  });

  it('reads JSON and vectors as text, everything else as it is', () => {
    expect(mysqlReadExpression('`j`', 'json')).toBe('CAST(`j` AS CHAR)');
    expect(mysqlReadExpression('`v`', 'vector(3)')).toBe('CAST(`v` AS CHAR)');
    expect(mysqlReadExpression('`b`', 'bigint')).toBe('`b`');
    expect(mysqlReadExpression('`n`', 'decimal(10,2)')).toBe('`n`');
  });
});
