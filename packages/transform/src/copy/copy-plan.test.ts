import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCmpkgError, type TableDefinition } from '@cmpkg/core';
import { describe, expect, it } from 'vitest';
import { failureOf, sqliteDb } from '../test-support.js';
import { copyDatabase } from './copy-database.js';
import { parseCopyMapping } from './copy-mapping.js';
import { planCopy } from './copy-plan.js';

function failure(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (isCmpkgError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a failure');
}

const users: TableDefinition = {
  name: 'users',
  columns: [
    { name: 'id', type: 'integer', nullable: false, autoIncrement: true },
    { name: 'email', type: 'text', nullable: false },
    { name: 'score', type: 'double', nullable: true },
  ],
  primaryKey: { columns: ['id'] },
  indexes: [{ name: 'users_email', unique: true, parts: [{ column: 'email' }] }],
  foreignKeys: [],
  checks: [{ name: 'score_positive', expression: 'score >= 0' }],
};

async function source() {
  const db = await sqliteDb();
  for (const sql of db.dialect.renderDdl({ kind: 'createTable', table: users }))
    await db.connection.execute(sql);
  await db.connection.execute(
    "insert into users (id, email, score) values (1, 'a@x', 1.5), (2, 'b@x', null)",
  );
  return db;
}

describe('parseCopyMapping', () => {
  it('accepts a full mapping', () => {
    const m = parseCopyMapping(
      {
        tables: {
          users: {
            target: 'accounts',
            columns: { email: 'login', score: null },
            mapping: [
              { source: 'email', target: 'domain', transform: { type: 'FUNCTION', definition: 'lower' } },
            ],
            filter: 'id > 0',
          },
        },
      },
      'm.json',
    );
    expect(m.tables.users).toEqual({
      target: 'accounts',
      columns: { email: 'login', score: null },
      mapping: [
        {
          source: 'email',
          target: 'domain',
          transform: { type: 'function', definition: 'lower' },
          required: false,
        },
      ],
      filter: 'id > 0',
    });
  });

  it.each([
    [[], '"m.json: a copy mapping must be'],
    [{ tables: 1 }, 'field "tables"'],
    [{ tables: {}, extra: 1 }, 'field "extra"'],
    [{ tables: { users: 'x' } }, 'field "tables.users"'],
    [{ tables: { users: { target: '' } } }, 'field "tables.users.target"'],
    [{ tables: { users: { filter: 3 } } }, 'field "tables.users.filter"'],
    [{ tables: { users: { columns: [] } } }, 'field "tables.users.columns"'],
    [{ tables: { users: { columns: { email: 5 } } } }, 'field "tables.users.columns.email"'],
    [{ tables: { users: { mapping: {} } } }, 'field "tables.users.mapping"'],
    [{ tables: { users: { mapping: [{ source: 'a' }] } } }, 'field "tables.users.mapping[0].target"'],
    [
      { tables: { users: { mapping: [{ source: 'a', target: 'b', typo: 1 }] } } },
      'field "tables.users.mapping[0].typo"',
    ],
  ])('rejects %j naming the field', (json, field) => {
    const error = failure(() => parseCopyMapping(json, 'm.json'));
    expect(error.code).toBe('E_MAPPING');
    expect(`"${error.message}`).toContain(field.startsWith('"m.json') ? field : `m.json ${field}`);
  });
});

describe('planCopy', () => {
  it('renames, leaves out, keeps indexes and checks that still apply, orders parents first', async () => {
    const db = await source();
    const snapshot = await db.dialect.introspect(db.connection);
    const plan = planCopy({
      source: snapshot,
      target: db.dialect,
      mapping: { tables: { users: { target: 'accounts', columns: { email: 'login' } } } },
    });
    const t = plan.tables[0]!;
    expect(t.target).toBe('accounts');
    expect(t.targetColumns.map((c) => c.name)).toEqual(['id', 'login', 'score']);
    expect(t.indexes[0]?.parts).toEqual([{ column: 'login' }]);
    expect(t.definition.checks).toHaveLength(1);
    expect(t.autoIncrement).toEqual(['id']);

    const dropped = planCopy({
      source: snapshot,
      target: db.dialect,
      mapping: { tables: { users: { columns: { score: null } } } },
    });
    expect(dropped.tables[0]?.definition.checks).toEqual([]);
    expect(dropped.tables[0]?.warnings.join()).toContain('score_positive');
  });

  it('refuses a mapping of cmpkg history tables: they are copied as they are', async () => {
    const db = await source();
    const snapshot = await db.dialect.introspect(db.connection);
    const error = failure(() =>
      planCopy({
        source: snapshot,
        target: db.dialect,
        history: true,
        mapping: { tables: { cmpkg_migrations: { target: 'x' } } },
        mappingFile: 'm.json',
      }),
    );
    expect(error.code).toBe('E_MAPPING');
    expect(error.message).toContain('m.json field "tables.cmpkg_migrations"');
  });

  it('rejects unknown tables, clashing, reserved and over-long target names', async () => {
    const db = await source();
    const snapshot = await db.dialect.introspect(db.connection);
    const plan = (mapping: Parameters<typeof planCopy>[0]['mapping'], tables?: string[]) => () =>
      planCopy({
        source: snapshot,
        target: db.dialect,
        ...(mapping ? { mapping } : {}),
        ...(tables ? { tables } : {}),
        mappingFile: 'm.json',
      });
    expect(failure(plan(undefined, ['nope']))).toMatchObject({ code: 'E_USAGE' });
    expect(failure(plan({ tables: { users: { target: 'cmpkg_x' } } })).message).toContain('reserved');
    expect(failure(plan({ tables: { users: { target: 'x'.repeat(64) } } })).message).toContain(
      'longer than 63',
    );
    expect(failure(plan({ tables: { users: { columns: { email: 'id' } } } })).message).toContain(
      'field "tables.users.columns.email"',
    );
    expect(
      failure(plan({ tables: { users: { columns: { id: null, email: null, score: null } } } })).message,
    ).toContain('every column');
  });
});

describe('copyDatabase refusals before writing', () => {
  it('rejects a bad batch size, an unreadable or invalid mapping file, and an incompatible empty target', async () => {
    const from = await source();
    const to = await sqliteDb();
    expect(await failureOf(copyDatabase({ from, to, batchSize: 0 }))).toMatchObject({ code: 'E_MAPPING' });
    const dir = mkdtempSync(join(tmpdir(), 'cmpkg-map-'));
    expect(
      (await failureOf(copyDatabase({ from, to, mappingFile: join(dir, 'missing.json') }))).message,
    ).toContain('cannot read');
    writeFileSync(join(dir, 'bad.json'), '{\n  "tables": {\n    "users": { "target": "people", }\n  }\n}\n');
    const invalid = await failureOf(copyDatabase({ from, to, mappingFile: join(dir, 'bad.json') }));
    expect(invalid.code).toBe('E_MAPPING');
    expect(invalid.message).toMatch(/bad\.json:3:\d+: invalid JSON/);
    await to.connection.execute('create table users (id integer primary key)');
    const incompatible = await failureOf(copyDatabase({ from, to }));
    expect(incompatible.code).toBe('E_MAPPING');
    expect(incompatible.message).toContain('no column(s) email, score');
    expect((await to.rows("select name from sqlite_master where type = 'table'")).map((r) => r.name)).toEqual(
      ['users'],
    );
  });

  it('writes into an existing empty table, and empties it again when the copy fails', async () => {
    const from = await source();
    const to = await sqliteDb();
    await to.connection.execute('create table users (id integer primary key, email text, score real)');
    const report = await copyDatabase({ from, to });
    expect(report.verified).toBe(true);
    expect(await to.rows('select id, email from users order by id')).toEqual([
      { id: 1, email: 'a@x' },
      { id: 2, email: 'b@x' },
    ]);
    await to.connection.execute('delete from users');
    const failed = await failureOf(
      copyDatabase({
        from,
        to,
        mapping: { tables: { users: { mapping: [{ source: 'score', target: 'score', required: true }] } } },
      }),
    );
    expect(failed.code).toBe('E_DATA');
    expect(await to.rows('select count(*) as n from users')).toEqual([{ n: 0 }]);
    expect((await to.rows("select name from sqlite_master where type = 'table'")).map((r) => r.name)).toEqual(
      ['users'],
    );
  });
});
