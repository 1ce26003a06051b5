import {
  type Dialect,
  PORTABLE_TYPE_KINDS,
  type PortableType,
  splitStatements,
  UsageError,
} from '@cmpkg/core';
import { describe, expect, it } from 'vitest';
import {
  POSTGRES_TYPES,
  portableTypeOf,
  postgresCapabilities,
  postgresNativeType,
  postgresSplitterOptions,
  quotePostgresIdentifier,
} from './postgres-adapter.js';
import { PostgresDialect } from './postgres-dialect.js';

/** Every portable type, with what it renders as (array vectors) and what format_type() reports back. */
const TABLE: Array<[PortableType, string, string]> = [
  ['uuid', 'UUID', 'uuid'],
  ['text', 'TEXT', 'text'],
  ['varchar(200)', 'VARCHAR(200)', 'character varying(200)'],
  ['integer', 'INTEGER', 'integer'],
  ['bigint', 'BIGINT', 'bigint'],
  ['smallint', 'SMALLINT', 'smallint'],
  ['boolean', 'BOOLEAN', 'boolean'],
  ['real', 'REAL', 'real'],
  ['double', 'DOUBLE PRECISION', 'double precision'],
  ['decimal(10,2)', 'NUMERIC(10,2)', 'numeric(10,2)'],
  ['date', 'DATE', 'date'],
  ['timestamp', 'TIMESTAMP', 'timestamp without time zone'],
  ['timestamptz', 'TIMESTAMPTZ', 'timestamp with time zone'],
  ['json', 'JSONB', 'jsonb'],
  ['blob', 'BYTEA', 'bytea'],
  ['vector(3)', 'REAL[]', 'real[]'],
];

describe('the type mapping table', () => {
  it('covers every portable type kind', () => {
    expect(Object.keys(POSTGRES_TYPES).sort()).toEqual([...PORTABLE_TYPE_KINDS].sort());
    expect(new Set(TABLE.map(([t]) => t.replace(/\(.*$/, '')))).toEqual(new Set(PORTABLE_TYPE_KINDS));
    expect(Object.isFrozen(POSTGRES_TYPES)).toBe(true);
  });

  it.each(TABLE)('%s -> %s', (portable, native) => {
    expect(postgresNativeType(portable)).toBe(native);
    expect(new PostgresDialect().nativeType(portable)).toBe(native);
  });

  it('maps vectors to pgvector when asked', () => {
    expect(postgresNativeType('vector(1536)', 'pgvector')).toBe('VECTOR(1536)');
    expect(new PostgresDialect({ vectorType: 'pgvector' }).nativeType('vector(3)')).toBe('VECTOR(3)');
  });

  it('accepts any spelling core accepts and rejects non-portable types', () => {
    expect(postgresNativeType('VARCHAR( 20 )' as PortableType)).toBe('VARCHAR(20)');
    expect(() => postgresNativeType('money' as PortableType)).toThrow(UsageError);
  });

  it.each(TABLE.filter(([t]) => !t.startsWith('vector')))(
    'reads %s back from format_type()',
    (portable, _, formatted) => {
      expect(portableTypeOf(formatted)).toBe(portable);
    },
  );

  it('reads back json, pgvector and unparameterised types', () => {
    expect(portableTypeOf('json')).toBe('json');
    expect(portableTypeOf('vector(3)')).toBe('vector(3)');
    // REAL[] vectors need their column comment: the introspector decides.
    expect(portableTypeOf('real[]')).toBeNull();
    for (const other of [
      'character varying',
      'numeric',
      'money',
      'integer[]',
      'timestamp(3) with time zone',
      'constructor',
    ]) {
      expect(portableTypeOf(other)).toBeNull();
    }
  });
});

describe('capabilities, splitter and quoting', () => {
  it('declares what PostgreSQL can do', () => {
    const d: Dialect = new PostgresDialect();
    expect(d.capabilities).toBe(postgresCapabilities);
    expect(postgresCapabilities).toEqual({
      transactionalDdl: true,
      concurrentIndex: true,
      returning: true,
      savepoints: true,
      statementTimeout: true,
      partialIndexes: true,
      expressionIndexes: true,
    });
  });

  it('splits dollar quotes, nested comments and BEGIN ATOMIC bodies', () => {
    expect(postgresSplitterOptions.dollarQuotes).toBe(true);
    expect(postgresSplitterOptions.nestedBlockComments).toBe(true);
    const script = `
      create function f() returns int language plpgsql as $body$ begin return 1; end; $body$;
      /* outer /* inner; */ still a comment; */
      create function g() returns int language sql begin atomic select 1; select 2; end;
      select f(), g();`;
    const statements = splitStatements(script, postgresSplitterOptions);
    expect(statements).toHaveLength(3);
    expect(statements[0]).toMatch(/\$body\$$/);
    expect(statements[1]).toMatch(/begin atomic select 1; select 2; end$/);
    expect(new PostgresDialect().splitStatements(script)).toEqual(statements);
  });

  it('quotes identifiers, doubling quotes', () => {
    expect(quotePostgresIdentifier('user')).toBe('"user"');
    expect(quotePostgresIdentifier('a"b')).toBe('"a""b"');
    expect(new PostgresDialect().quoteIdentifier('Mixed Case')).toBe('"Mixed Case"');
  });
});

describe('PostgresDialect options', () => {
  it('validates its options', () => {
    expect(new PostgresDialect().connectTimeoutMs).toBe(10_000);
    expect(new PostgresDialect().vectorType).toBe('array');
    expect(() => new PostgresDialect({ connectTimeoutMs: -1 })).toThrow(UsageError);
    expect(() => new PostgresDialect({ vectorType: 'blob' as 'array' })).toThrow(UsageError);
  });

  it('handles postgres:// and postgresql:// in any case', () => {
    const d = new PostgresDialect();
    expect(d.handles('postgres://localhost/app')).toBe(true);
    expect(d.handles('POSTGRESQL://localhost/app')).toBe(true);
    expect(d.handles('mysql://localhost/app')).toBe(false);
    expect(d.handles('sqlite:./app.db')).toBe(false);
    expect(d.handles('postgres:app')).toBe(false);
  });
});
