import { PORTABLE_TYPE_KINDS, type PortableType, UsageError } from '@cmpkg/core';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SQLITE_TYPES, sqliteNativeType, sqlitePortableType } from './sqlite-adapter.js';

const EVERY_TYPE: Array<[PortableType, string]> = [
  ['uuid', 'UUID'],
  ['text', 'TEXT'],
  ['varchar(20)', 'VARCHAR(20)'],
  ['integer', 'INTEGER'],
  ['bigint', 'BIGINT'],
  ['smallint', 'SMALLINT'],
  ['boolean', 'BOOLEAN'],
  ['real', 'FLOAT'],
  ['double', 'DOUBLE'],
  ['decimal(10,2)', 'DECIMAL(10,2)'],
  ['date', 'DATE'],
  ['timestamp', 'TIMESTAMP'],
  ['timestamptz', 'TIMESTAMPTZ'],
  ['json', 'JSON'],
  ['blob', 'BLOB'],
  ['vector(3)', 'VECTOR(3)'],
];

describe('the SQLite type mapping table', () => {
  it('has one frozen entry per portable type', () => {
    expect(Object.keys(SQLITE_TYPES).sort()).toEqual([...PORTABLE_TYPE_KINDS].sort());
    expect(Object.isFrozen(SQLITE_TYPES)).toBe(true);
  });

  it.each(EVERY_TYPE)('declares %s as %s', (portable, native) => {
    expect(sqliteNativeType(portable)).toBe(native);
  });

  it('accepts any spelling parsePortableType accepts and rejects the rest', () => {
    expect(sqliteNativeType('DECIMAL( 12 , 4 )' as PortableType)).toBe('DECIMAL(12,4)');
    expect(() => sqliteNativeType('money' as PortableType)).toThrow(UsageError);
  });

  it.each(EVERY_TYPE)('reads %s back from its declared type %s', (portable, native) => {
    expect(sqlitePortableType(native)).toBe(portable);
    expect(sqlitePortableType(native.toLowerCase())).toBe(portable);
  });

  it.each([
    ['INT', 'integer'],
    ['int', 'integer'],
    ['INTEGER', 'integer'],
    ['TINYINT(1)', 'boolean'],
    ['tinyint( 1 )', 'boolean'],
    ['BOOL', 'boolean'],
    ['CHARACTER VARYING(30)', 'varchar(30)'],
    ['character  varying (30)', 'varchar(30)'],
    ['NVARCHAR(40)', 'varchar(40)'],
    ['CLOB', 'text'],
    ['FLOAT', 'real'],
    // SQLite's REAL is an 8-byte float: a hand-written REAL column holds doubles.
    ['REAL', 'double'],
    ['DOUBLE PRECISION', 'double'],
    ['NUMERIC(8,3)', 'decimal(8,3)'],
    ['numeric(8, 3)', 'decimal(8,3)'],
    ['DECIMAL(8)', 'decimal(8,0)'],
    ['DATETIME', 'timestamp'],
  ])('maps the foreign spelling %s to %s', (declared, portable) => {
    expect(sqlitePortableType(declared)).toBe(portable);
  });

  it.each([
    '',
    '  ',
    'MEDIUMINT',
    'UNSIGNED BIG INT',
    'VARCHAR',
    'VARCHAR(0)',
    'NUMERIC',
    'TINYINT',
    'ANY',
    'DECIMAL(2,5)',
  ])('has no portable type for %j', (declared) => {
    expect(sqlitePortableType(declared)).toBeNull();
  });

  it("stores values the way the design asks, through SQLite's affinity rules", () => {
    const db = new Database(':memory:');
    try {
      const columns = EVERY_TYPE.map(([portable], i) => `c${i} ${sqliteNativeType(portable)}`).join(', ');
      db.exec(`create table t (${columns})`);
      const sample: Record<string, unknown> = {
        uuid: '3f2504e0-4f89-11d3-9a0c-0305e82c3301',
        text: '42',
        'varchar(20)': '42',
        integer: '42',
        bigint: '9007199254740993',
        smallint: '7',
        boolean: 1,
        real: '1.5',
        double: '2.5',
        'decimal(10,2)': '10.25',
        date: '2025-01-02',
        timestamp: '2025-01-02 03:04:05',
        timestamptz: '2025-01-02T03:04:05Z',
        json: '{"a":[1,2]}',
        blob: Buffer.from([1, 2]),
        'vector(3)': '[1,2,3]',
      };
      const values = EVERY_TYPE.map(([portable]) => sample[portable]);
      db.prepare(`insert into t values (${values.map(() => '?').join(', ')})`).run(...values);
      const types = db
        .prepare<[], Record<string, string>>(
          `select ${EVERY_TYPE.map((_, i) => `typeof(c${i}) as c${i}`).join(', ')} from t`,
        )
        .get()!;
      expect(Object.fromEntries(EVERY_TYPE.map(([portable], i) => [portable, types[`c${i}`]]))).toEqual({
        uuid: 'text',
        text: 'text',
        'varchar(20)': 'text',
        integer: 'integer',
        bigint: 'integer',
        smallint: 'integer',
        boolean: 'integer',
        real: 'real',
        double: 'real',
        'decimal(10,2)': 'real',
        date: 'text',
        timestamp: 'text',
        timestamptz: 'text',
        json: 'text',
        blob: 'blob',
        'vector(3)': 'text',
      });
    } finally {
      db.close();
    }
  });
});
