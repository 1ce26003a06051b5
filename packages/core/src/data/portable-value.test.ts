import { describe, expect, it } from 'vitest';
import {
  canonicalValueText,
  decodeJsonValue,
  decodeValue,
  encodeJsonValue,
  sqlDateTime,
  ValueDecodeError,
  valueDecoder,
} from './portable-value.js';

describe('decodeValue', () => {
  it('keeps 64-bit integers exact: numbers when safe, bigint beyond 2^53', () => {
    expect(decodeValue('bigint', '42')).toBe(42);
    expect(decodeValue('bigint', '9007199254740993')).toBe(9007199254740993n);
    expect(decodeValue('bigint', 9007199254740993n)).toBe(9007199254740993n);
    expect(decodeValue('integer', 7n)).toBe(7);
    expect(() => decodeValue('integer', 1.5)).toThrow(ValueDecodeError);
    expect(() => decodeValue('integer', 'abc')).toThrow(/"abc" is not a valid integer/);
  });

  it('keeps decimals as exact digit strings and spells floats without exponents', () => {
    expect(decodeValue('decimal(30,2)', '123456789012345678901234.50')).toBe('123456789012345678901234.50');
    expect(decodeValue('decimal(10,2)', 12.5)).toBe('12.5');
    expect(decodeValue('decimal(10,7)', 1e-7)).toBe('0.0000001');
    expect(decodeValue('decimal(20,9)', 1.25e-7)).toBe('0.000000125');
    expect(decodeValue('decimal(10,2)', 12345678.9)).toBe('12345678.9');
    expect(decodeValue('decimal(30,0)', 1e21)).toBe('1000000000000000000000');
    expect(() => decodeValue('decimal(10,2)', 'twelve')).toThrow(ValueDecodeError);
  });

  it('reads the boolean spellings drivers use', () => {
    expect([1, 0, 't', 'f', 'true', '0', true].map((v) => decodeValue('boolean', v))).toEqual([
      true,
      false,
      true,
      false,
      true,
      false,
      true,
    ]);
    expect(() => decodeValue('boolean', 2)).toThrow(/not a boolean/);
  });

  it('normalises timestamps with a zone to UTC and keeps microseconds', () => {
    expect(decodeValue('timestamptz', '2024-05-01 12:00:00.123456+02')).toBe('2024-05-01T10:00:00.123456Z');
    expect(decodeValue('timestamptz', '2024-05-01T00:30:00-01:30')).toBe('2024-05-01T02:00:00Z');
    expect(decodeValue('timestamptz', '2024-12-31T23:59:59.5-02:00')).toBe('2025-01-01T01:59:59.5Z');
    // No zone: read as UTC, the zone of every session cmpkg opens.
    expect(decodeValue('timestamptz', '2024-05-01 10:00:00')).toBe('2024-05-01T10:00:00Z');
    expect(decodeValue('timestamptz', new Date(Date.UTC(2024, 4, 1, 10, 0, 0, 250)))).toBe(
      '2024-05-01T10:00:00.25Z',
    );
  });

  it('keeps the wall-clock time of a timestamp without zone, and the day of a date', () => {
    expect(decodeValue('timestamp', '2024-05-01 10:00:00.000100')).toBe('2024-05-01T10:00:00.0001');
    expect(decodeValue('timestamp', '2024-05-01T10:00:00Z')).toBe('2024-05-01T10:00:00');
    expect(decodeValue('date', '2024-05-01')).toBe('2024-05-01');
    expect(decodeValue('date', new Date(Date.UTC(2024, 4, 1)))).toBe('2024-05-01');
    expect(() => decodeValue('date', '2024-13-01')).toThrow(/not a valid date/);
    expect(() => decodeValue('timestamp', 'yesterday')).toThrow(ValueDecodeError);
  });

  it('keeps JSON as text, so JSON null and SQL NULL stay apart', () => {
    expect(decodeValue('json', 'null')).toBe('null');
    expect(decodeValue('json', null)).toBeNull();
    expect(decodeValue('json', { b: [1, 'é'] })).toBe('{"b":[1,"é"]}');
    expect(() => decodeValue('json', '{oops')).toThrow(/invalid JSON/);
    expect(decodeValue('vector(3)', [1, 2.5, 3])).toBe('[1,2.5,3]');
  });

  it('takes Buffers for blobs and turns text into UTF-8 bytes', () => {
    const bytes = Buffer.from([0, 255, 10]);
    expect(decodeValue('blob', bytes)).toBe(bytes);
    expect(Buffer.from(decodeValue('blob', 'é') as Uint8Array)).toEqual(Buffer.from('é'));
    expect(() => decodeValue('blob', 5)).toThrow(/not bytes/);
  });
});

describe('canonicalValueText', () => {
  it('is equal for values that survive a round trip through any engine', () => {
    expect(canonicalValueText('decimal(10,2)', '12.50')).toBe(canonicalValueText('decimal(10,2)', '12.5'));
    expect(canonicalValueText('json', '{"b":1, "a":2}')).toBe(canonicalValueText('json', '{"a":2,"b":1}'));
    expect(canonicalValueText('uuid', 'ABCDEF00-0000-0000-0000-000000000000')).toBe(
      canonicalValueText('uuid', 'abcdef00-0000-0000-0000-000000000000'),
    );
    // A real column stores 4-byte floats: compared at that precision.
    expect(canonicalValueText('real', 0.1)).toBe(canonicalValueText('real', Math.fround(0.1)));
    expect(canonicalValueText('double', 0.1)).not.toBe(canonicalValueText('double', Math.fround(0.1)));
  });

  it('tells NULL from the empty string and from JSON null', () => {
    expect(canonicalValueText('text', null)).not.toBe(canonicalValueText('text', ''));
    expect(canonicalValueText('json', null)).not.toBe(canonicalValueText('json', 'null'));
  });
});

describe('NDJSON values', () => {
  it('round-trips blobs, big integers and JSON text', () => {
    const blob = Buffer.from([0, 1, 2, 254, 255]);
    const encoded = JSON.parse(
      JSON.stringify([
        encodeJsonValue('blob', blob),
        encodeJsonValue('bigint', 2n ** 63n - 1n),
        encodeJsonValue('json', '{"a":null}'),
      ]),
    ) as unknown[];
    expect(Buffer.from(decodeJsonValue('blob', encoded[0]) as Uint8Array)).toEqual(blob);
    expect(decodeJsonValue('bigint', encoded[1])).toBe(2n ** 63n - 1n);
    expect(decodeJsonValue('json', encoded[2])).toBe('{"a":null}');
  });

  it('refuses a blob that is not base64', () => {
    expect(() => decodeJsonValue('blob', 'not base64!')).toThrow(/expected base64/);
  });
});

describe('sqlDateTime', () => {
  it('spells a value the way MySQL takes it', () => {
    expect(sqlDateTime('2024-05-01T10:00:00.5Z')).toBe('2024-05-01 10:00:00.5');
  });
});

describe('valueDecoder', () => {
  it('gives what decodeValue gives, for canonical and non-canonical input alike', () => {
    const cases: Array<[Parameters<typeof decodeValue>[0], unknown]> = [
      ['timestamptz', '2024-05-01T10:00:00Z'],
      ['timestamptz', '2024-05-01T10:00:00.120Z'],
      ['timestamptz', '2024-05-01T10:00:00.000000Z'],
      ['timestamptz', '2024-05-01T10:00:00.100500Z'],
      ['timestamp', '2024-05-01T10:00:00.000000'],
      ['timestamp', '2024-05-01T10:00:00.000010'],
      ['timestamptz', '2024-05-01 12:00:00+02'],
      ['timestamp', '2024-05-01T10:00:00.5'],
      ['timestamp', '2024-05-01 10:00:00'],
      ['date', '2024-05-01'],
      ['date', new Date(Date.UTC(2024, 4, 1))],
      ['integer', 5],
      ['bigint', '9007199254740993'],
      ['boolean', 1],
      ['text', 'x'],
      ['text', 12],
      ['double', '1.5'],
      ['decimal(10,2)', 12.5],
      ['json', { a: 1 }],
    ];
    for (const [type, raw] of cases) expect(valueDecoder(type)(raw)).toEqual(decodeValue(type, raw));
  });

  it('still refuses what decodeValue refuses', () => {
    expect(() => valueDecoder('date')('2024-13-01')).toThrow(ValueDecodeError);
    expect(() => valueDecoder('timestamptz')('2024-05-01T25:00:00Z')).toThrow(ValueDecodeError);
    expect(() => valueDecoder('integer')(1.5)).toThrow(ValueDecodeError);
  });
});
