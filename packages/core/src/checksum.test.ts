import { describe, expect, it } from 'vitest';
import { canonicalJson, checksumMigration, checksumStep, normalizeSql, sha256Hex } from './checksum.js';
import type { Step } from './model/types.js';

function sqlStep(universal: string, extra: Partial<Step> = {}): Step {
  return {
    id: 'up',
    type: 'sql',
    name: 'Up',
    sql: { universal },
    transactional: true,
    rollbackSupported: true,
    skipOnError: false,
    dependencies: [],
    ...extra,
  };
}

function migration(up: Step[], down: Step[] = [], version = '1.0.0') {
  return { id: '0001_init', version, steps: { up, down } };
}

describe('sha256Hex', () => {
  it('hashes strings as UTF-8 and bytes as given', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex(new TextEncoder().encode('é'))).toBe(sha256Hex('é'));
  });
});

describe('canonicalJson', () => {
  it('sorts keys recursively and omits undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: undefined }], c: 'x' }, e: undefined })).toBe(
      '{"a":{"c":"x","d":[2,{"z":1}]},"b":1}',
    );
  });

  it('follows JSON for arrays, primitives and toJSON', () => {
    expect(canonicalJson([undefined, null, 'a"b', 1.5])).toBe('[null,null,"a\\"b",1.5]');
    expect(canonicalJson(new Date(0))).toBe('"1970-01-01T00:00:00.000Z"');
    expect(canonicalJson(undefined)).toBe('null');
  });

  it('refuses cycles and BigInt', () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    expect(() => canonicalJson(a)).toThrow(/circular/);
    expect(() => canonicalJson({ n: 1n })).toThrow(/BigInt/);
  });

  it('allows the same object twice when it is not a cycle', () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
  });
});

describe('normalizeSql', () => {
  it('normalises line endings, trailing whitespace and surrounding blank lines', () => {
    expect(normalizeSql('\r\n  \r\n  SELECT 1;  \r\n\tFROM t\t\r\rSELECT 2;\n \n')).toBe(
      '  SELECT 1;\n\tFROM t\n\nSELECT 2;',
    );
    expect(normalizeSql('')).toBe('');
    expect(normalizeSql(' \n \n')).toBe('');
  });
});

describe('checksumMigration', () => {
  const base = checksumMigration(migration([sqlStep('CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);')]));

  it('has the sha256: prefix and a 64-digit hex digest', () => {
    expect(base).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('ignores CRLF, trailing spaces and blank lines around SQL', () => {
    const windows = checksumMigration(
      migration([sqlStep('\r\nCREATE TABLE t (id int);   \r\nINSERT INTO t VALUES (1);\t\r\n\r\n')]),
    );
    expect(windows).toBe(base);
  });

  it('normalises every SQL-bearing field', () => {
    const a = sqlStep('SELECT 1', {
      sql: { postgresql: 'SELECT 1', mysql: 'SELECT 2' },
      preValidation: 'SELECT 1',
      postValidation: 'SELECT 2',
      transform: {
        source: 's',
        target: 't',
        mapping: [{ source: 'a', target: 'b', required: false }],
        filter: 'x > 1',
      },
    });
    const b = sqlStep('SELECT 1', {
      sql: { postgresql: 'SELECT 1  \r\n', mysql: '\nSELECT 2' },
      preValidation: 'SELECT 1 \r\n',
      postValidation: 'SELECT 2\n\n',
      transform: {
        source: 's',
        target: 't',
        mapping: [{ source: 'a', target: 'b', required: false }],
        filter: 'x > 1\r\n',
      },
    });
    expect(checksumMigration(migration([a]))).toBe(checksumMigration(migration([b])));
  });

  it('does not depend on key order', () => {
    const reordered: Step = {
      dependencies: [],
      skipOnError: false,
      rollbackSupported: true,
      transactional: true,
      sql: { universal: 'CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);' },
      name: 'Up',
      type: 'sql',
      id: 'up',
    };
    expect(
      checksumMigration({ steps: { down: [], up: [reordered] }, version: '1.0.0', id: '0001_init' }),
    ).toBe(base);
  });

  it('changes with any real change', () => {
    const variants = [
      migration([sqlStep('CREATE TABLE t (id bigint);\nINSERT INTO t VALUES (1);')]),
      migration([sqlStep('CREATE TABLE t (id int);\n  INSERT INTO t VALUES (1);')]),
      migration([sqlStep('CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);', { transactional: false })]),
      migration([sqlStep('CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);')], [sqlStep('DROP TABLE t')]),
      migration([sqlStep('CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);')], [], '1.0.1'),
      { ...migration([sqlStep('CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);')]), id: '0002_init' },
    ];
    const sums = new Set([base, ...variants.map(checksumMigration)]);
    expect(sums.size).toBe(variants.length + 1);
  });

  it('hashes code steps by their source text', () => {
    const code = (run: Step['run']): Step => ({ ...sqlStep(''), sql: undefined, type: 'code', run });
    const one = checksumMigration(
      migration([
        code(async (ctx) => {
          await ctx.execute('SELECT 1');
        }),
      ]),
    );
    const same = checksumMigration(
      migration([
        code(async (ctx) => {
          await ctx.execute('SELECT 1');
        }),
      ]),
    );
    const other = checksumMigration(
      migration([
        code(async (ctx) => {
          await ctx.execute('SELECT 2');
        }),
      ]),
    );
    expect(one).toBe(same);
    expect(one).not.toBe(other);
  });
});

describe('checksumStep', () => {
  it('normalises like checksumMigration and tells steps apart', () => {
    expect(checksumStep(sqlStep('SELECT 1;\r\n  '))).toBe(checksumStep(sqlStep('SELECT 1;')));
    expect(checksumStep(sqlStep('SELECT 1;'))).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(checksumStep(sqlStep('SELECT 1;'))).not.toBe(checksumStep(sqlStep('SELECT 2;')));
    expect(checksumStep(sqlStep('SELECT 1;'))).not.toBe(checksumStep(sqlStep('SELECT 1;', { id: 'other' })));
  });
});
