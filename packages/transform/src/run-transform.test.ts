import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineMigration, Migrator, TRANSFORM_FUNCTIONS } from '@cmpkg/core';
import { afterEach, describe, expect, it } from 'vitest';
import { BUILTIN_FUNCTIONS } from './mapping/functions.js';
import type { ProgressEvent } from './progress.js';
import { TransformRegistry } from './registry.js';
import { checkTransform, runTransform, type TransformSpec } from './run-transform.js';
import { sqliteDb } from './test-support.js';
import { createTransformRunner } from './transform-runner.js';

type Db = Awaited<ReturnType<typeof sqliteDb>>;
let db: Db;
afterEach(async () => {
  await db?.connection.close();
});

async function people(): Promise<Db> {
  db = await sqliteDb();
  await db.connection.execute(
    `create table people (id integer primary key, name text, email text, score real, country text, tags text, born text, active text)`,
  );
  await db.connection.execute(
    `insert into people values
      (1, '  Ada Lovelace ', 'ADA@Example.com', 12.345, 'uk', '{"a":{"b":[10,20]},"s":"x"}', '1815-12-10T08:00:00Z', 'yes'),
      (2, 'Alan Turing', 'alan@example.com', -2.5, 'UK', '{"a":{"b":[30]}}', '1912-06-23', '0'),
      (3, NULL, '', 7, 'fr', NULL, NULL, NULL)`,
  );
  return db;
}

const rows = (sql: string) => db.rows(sql);

/** `people`, and an empty `out` with `id integer primary key` and then `columns` (SQL). */
async function peopleAndOut(columns: string): Promise<Db> {
  await people();
  await db.connection.execute(`create table out (id integer primary key, ${columns})`);
  return db;
}

/** A spec reading `people` into `out`: `id` to `id`, then `mapping`; `extra` adds to or replaces fields. */
const peopleToOut = (
  mapping: TransformSpec['mapping'],
  extra: Partial<TransformSpec> = {},
): TransformSpec => ({
  source: 'people',
  target: 'out',
  mapping: [{ source: 'id', target: 'id' }, ...mapping],
  ...extra,
});

/** One column of `out`, ordered by id. */
const outColumn = async (column: string) =>
  (await rows(`select ${column} from out order by id`)).map((r) => r[column]);

describe('built-in functions', () => {
  it('implements exactly core TRANSFORM_FUNCTIONS', () => {
    expect(Object.keys(BUILTIN_FUNCTIONS).sort()).toEqual([...TRANSFORM_FUNCTIONS].sort());
  });

  // [function, source column, parameters, target type, expected values for ids 1..3]
  const cases: Array<[string, string, unknown, string, unknown[]]> = [
    ['upper', 'email', undefined, 'text', ['ADA@EXAMPLE.COM', 'ALAN@EXAMPLE.COM', '']],
    ['lower', 'email', undefined, 'text', ['ada@example.com', 'alan@example.com', '']],
    ['trim', 'name', undefined, 'text', ['Ada Lovelace', 'Alan Turing', null]],
    ['round', 'score', [1], 'real', [12.3, -2.5, 7]],
    ['round', 'score', undefined, 'real', [12, -3, 7]],
    ['concat', 'country', ['-', { column: 'id' }], 'text', ['uk-1', 'UK-2', 'fr-3']],
    ['split', 'email', { separator: '@', index: 1 }, 'text', ['Example.com', 'example.com', null]],
    ['split', 'name', [' '], 'text', [null, 'Alan', null]],
    ['coalesce', 'name', ['(none)'], 'text', ['  Ada Lovelace ', 'Alan Turing', '(none)']],
    ['number', 'score', undefined, 'real', [12.345, -2.5, 7]],
    ['boolean', 'active', undefined, 'integer', [1, 0, null]],
    ['date', 'born', undefined, 'text', ['1815-12-10', '1912-06-23', null]],
    ['json_extract', 'tags', ['$.a.b[1]'], 'integer', [20, null, null]],
    ['json_extract', 'tags', ['a.b'], 'text', ['[10,20]', '[30]', null]],
    ['substring', 'email', [1, 3], 'text', ['ADA', 'ala', '']],
    ['replace', 'email', ['example', 'test'], 'text', ['ADA@Example.com', 'alan@test.com', '']],
    ['abs', 'score', undefined, 'real', [12.345, 2.5, 7]],
    ['floor', 'score', undefined, 'integer', [12, -3, 7]],
    ['ceil', 'score', undefined, 'integer', [13, -2, 7]],
    ['lpad', 'id', [3, '0'], 'text', ['001', '002', '003']],
    ['rpad', 'country', [4, '.'], 'text', ['uk..', 'UK..', 'fr..']],
    ['default_if_empty', 'email', ['n/a'], 'text', ['ADA@Example.com', 'alan@example.com', 'n/a']],
    ['length', 'email', undefined, 'integer', [15, 16, 0]],
  ];

  for (const [fn, column, parameters, type, expected] of cases) {
    it(`${fn}(${column}${parameters ? `, ${JSON.stringify(parameters)}` : ''}) gives the same rows streamed and in SQL`, async () => {
      await peopleAndOut(`v ${type}`);
      const spec = peopleToOut(
        [
          {
            source: column,
            target: 'v',
            transform: {
              type: 'function',
              definition: fn,
              ...(parameters ? { parameters: parameters as [] } : {}),
            },
          },
        ],
        { kind: 'convert' },
      );
      const streamed = await runTransform(spec, { source: db, fastPath: false });
      expect(streamed.fastPath).toBe(false);
      expect(await outColumn('v')).toEqual(expected);
      await db.connection.execute('delete from out');
      const fast = await runTransform(spec, { source: db });
      if (fast.fastPath) expect(await outColumn('v')).toEqual(expected);
      else
        expect(
          BUILTIN_FUNCTIONS[fn as 'upper'].sql?.({
            engine: 'sqlite',
            input: 'x',
            args: ['1', '2'],
            sourceKind: 'text',
            targetKind: 'text',
          }),
        ).toBeUndefined();
    });
  }

  it('uuid gives a new UUID per row and now one time for the whole run', async () => {
    await peopleAndOut('u text, t text');
    await runTransform(
      peopleToOut([
        { source: 'id', target: 'u', transform: { type: 'function', definition: 'uuid' } },
        { source: 'id', target: 't', transform: { type: 'function', definition: 'NOW' } },
      ]),
      { source: db },
    );
    const out = await rows('select u, t from out');
    expect(new Set(out.map((r) => r.u)).size).toBe(3);
    for (const r of out)
      expect(r.u).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(out.map((r) => r.t)).size).toBe(1);
    expect(Math.abs(Date.parse(String(out[0]!.t)) - Date.now())).toBeLessThan(60_000);
  });

  it('a value a function cannot take is a row error (number of text)', async () => {
    await peopleAndOut('v real');
    await expect(
      runTransform(
        peopleToOut([
          { source: 'email', target: 'v', transform: { type: 'function', definition: 'number' } },
        ]),
        { source: db },
      ),
    ).rejects.toMatchObject({
      code: 'E_DATA',
      message: expect.stringMatching(/row id=1: v: number: "ADA@Example.com" is not a number/),
    });
    expect(await rows('select count(*) as n from out')).toEqual([{ n: 0 }]);
  });
});

describe('lookup, expression, custom', () => {
  it('lookup maps values (as text) and misses take the default, streamed and in SQL', async () => {
    for (const fastPath of [false, true]) {
      await peopleAndOut('country text');
      const result = await runTransform(
        peopleToOut([
          {
            source: 'country',
            target: 'country',
            transform: { type: 'lookup', definition: '{"uk":"United Kingdom","fr":"France"}' },
            defaultValue: 'other',
          },
        ]),
        { source: db, fastPath },
      );
      expect(result.fastPath).toBe(fastPath);
      expect(await outColumn('country')).toEqual(['United Kingdom', 'other', 'France']);
      await db.connection.close();
    }
  });

  it('expression is evaluated by the source database, including a subquery on another table', async () => {
    await peopleAndOut('label text, country text');
    await db.connection.execute('create table countries (code text primary key, name text)');
    await db.connection.execute("insert into countries values ('uk', 'United Kingdom'), ('fr', 'France')");
    const result = await runTransform(
      peopleToOut(
        [
          {
            source: '*',
            target: 'label',
            transform: { type: 'expression', definition: "id || ':' || upper(country)" },
          },
          {
            source: 'country',
            target: 'country',
            transform: {
              type: 'expression',
              definition: 'select c.name from countries c where c.code = lower(people.country)',
            },
          },
        ],
        { kind: 'enrich' },
      ),
      { source: db, fastPath: false },
    );
    expect(result.rowsWritten).toBe(3);
    expect(await rows('select label, country from out order by id')).toEqual([
      { label: '1:UK', country: 'United Kingdom' },
      { label: '2:UK', country: 'United Kingdom' },
      { label: '3:FR', country: 'France' },
    ]);
  });

  it('custom calls the registered function with value, row and parameters', async () => {
    await peopleAndOut('v text');
    const registry = new TransformRegistry();
    registry.register(
      'tag',
      (value, row, parameters) => `${(parameters as { prefix: string }).prefix}${value}/${row.country}`,
    );
    const result = await runTransform(
      peopleToOut([
        {
          source: 'id',
          target: 'v',
          transform: { type: 'custom', definition: 'tag', parameters: { prefix: '#' } },
        },
      ]),
      { source: db, registry },
    );
    expect(result.fastPath).toBe(false);
    expect(await outColumn('v')).toEqual(['#1/uk', '#2/UK', '#3/fr']);
  });

  it('a custom function that throws stops with E_TRANSFORM_FAILED and leaves the target unchanged', async () => {
    await peopleAndOut('v text');
    await db.connection.execute("insert into out values (99, 'before')");
    const registry = new TransformRegistry();
    const boom = new Error('no country for 3');
    registry.register('explode', (value) => {
      if (value === 3) throw boom;
      return 'ok';
    });
    const error = await runTransform(
      peopleToOut([{ source: 'id', target: 'v', transform: { type: 'custom', definition: 'explode' } }], {
        batchSize: 1,
      }),
      { source: db, registry, commit: 'end' },
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'E_TRANSFORM_FAILED',
      message: expect.stringMatching(/explode.*no country for 3/),
      cause: boom,
    });
    expect(await rows('select id, v from out')).toEqual([{ id: 99, v: 'before' }]);
  });
});

describe('mapping errors (E_MAPPING before anything is written)', () => {
  const cases: Array<[string, TransformSpec, RegExp]> = [
    [
      'unknown source column',
      peopleToOut([{ source: 'nope', target: 'v' }]),
      /mapping\[1\]\.source: no column "nope" in source table people/,
    ],
    [
      'unknown target column',
      peopleToOut([{ source: 'name', target: 'nope' }]),
      /mapping\[1\]\.target: no column "nope" in target table out/,
    ],
    ['unknown source table', peopleToOut([], { source: 'ghosts' }), /source: unknown source table "ghosts"/],
    ['unknown target table', peopleToOut([], { target: 'ghosts' }), /target: unknown target table "ghosts"/],
    [
      'unknown function',
      peopleToOut([{ source: 'name', target: 'v', transform: { type: 'function', definition: 'shout' } }]),
      /mapping\[1\]\.transform\.definition: unknown function "shout"/,
    ],
    [
      'unknown custom function',
      peopleToOut([{ source: 'name', target: 'v', transform: { type: 'custom', definition: 'nobody' } }]),
      /mapping\[1\]\.transform\.definition: no custom transform "nobody" is registered/,
    ],
    [
      'missing parameter',
      peopleToOut([
        {
          source: 'name',
          target: 'v',
          transform: { type: 'function', definition: 'replace', parameters: ['a'] },
        },
      ]),
      /replace needs 2 parameter/,
    ],
    [
      'bad lookup',
      peopleToOut([{ source: 'name', target: 'v', transform: { type: 'lookup', definition: '{oops' } }]),
      /lookup table is not valid JSON/,
    ],
    [
      'unknown rule',
      peopleToOut([{ source: 'name', target: 'v' }], {
        validation: [{ field: 'v', rule: 'shiny', message: '' }],
      }),
      /unknown rule/,
    ],
    [
      'rule on an unmapped field',
      peopleToOut([], { validation: [{ field: 'zzz', rule: 'required', message: '' }] }),
      /validation\[0\]\.field/,
    ],
  ];
  for (const [name, spec, message] of cases) {
    it(name, async () => {
      await peopleAndOut('v text');
      await expect(runTransform(spec, { source: db })).rejects.toMatchObject({
        code: 'E_MAPPING',
        message: expect.stringMatching(message),
      });
      await expect(checkTransform(spec, db)).rejects.toMatchObject({ code: 'E_MAPPING' });
      expect(await rows('select count(*) as n from out')).toEqual([{ n: 0 }]);
    });
  }

  it('checkTransform accepts a good spec against a snapshot', async () => {
    await peopleAndOut('v text');
    const snapshot = await db.dialect.introspect(db.connection);
    await expect(
      checkTransform(peopleToOut([{ source: 'name', target: 'v' }]), snapshot),
    ).resolves.toBeUndefined();
  });
});

describe('validation rules', () => {
  const spec = (severity: 'error' | 'warning'): TransformSpec =>
    peopleToOut(
      [{ source: 'email', target: 'email', transform: { type: 'function', definition: 'lower' } }],
      {
        validation: [
          { field: 'email', rule: 'email', message: 'email must be an address', severity },
          { field: 'id', rule: 'max:2', message: 'id too large', severity: 'warning' },
        ],
      },
    );
  const setup = () => peopleAndOut('email text');

  it('an error rule under abort stops with E_DATA naming the row and leaves the target unchanged', async () => {
    await setup();
    await expect(runTransform(spec('error'), { source: db })).rejects.toMatchObject({
      code: 'E_DATA',
      message: expect.stringMatching(/people: row id=3: email must be an address/),
    });
    expect(await rows('select count(*) as n from out')).toEqual([{ n: 0 }]);
  });

  it('an error rule under reject writes the row to the reject file and the others to the target; warnings are counted', async () => {
    await setup();
    const rejectFile = join(db.dir, 'rejects.ndjson');
    const result = await runTransform(spec('error'), { source: db, onError: 'reject', rejectFile });
    expect(result).toMatchObject({ rowsRead: 3, rowsWritten: 2, rowsRejected: 1, fastPath: false });
    // Row 3 is rejected by the error rule, so its warning does not count.
    expect(result.warnings).toEqual([]);
    expect(await rows('select id, email from out order by id')).toEqual([
      { id: 1, email: 'ada@example.com' },
      { id: 2, email: 'alan@example.com' },
    ]);
    const lines = readFileSync(rejectFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { table: 'people', key: 'id=3', error: 'email must be an address', field: 'email', rule: 'email' },
    ]);
  });

  it('warning rules only count', async () => {
    await setup();
    const result = await runTransform(spec('warning'), { source: db });
    expect(result.rowsWritten).toBe(3);
    expect(result.warnings).toEqual([
      { field: 'email', rule: 'email', message: 'email must be an address', count: 1 },
      { field: 'id', rule: 'max:2', message: 'id too large', count: 1 },
    ]);
  });

  it('required without a value is a row error; defaultValue fills nulls', async () => {
    await peopleAndOut('name text, tags text');
    const rejectFile = join(db.dir, 'r.ndjson');
    const result = await runTransform(
      peopleToOut([
        { source: 'name', target: 'name', required: true },
        { source: 'tags', target: 'tags', defaultValue: '{}' },
      ]),
      { source: db, onError: 'reject', rejectFile },
    );
    expect(result).toMatchObject({ rowsWritten: 2, rowsRejected: 1 });
    expect(JSON.parse(readFileSync(rejectFile, 'utf8'))).toMatchObject({
      key: 'id=3',
      field: 'name',
      rule: 'required',
    });
  });
});

describe('kinds', () => {
  it('copy copies columns as they are ("*" = every column of the same name)', async () => {
    await peopleAndOut('country text, extra text');
    const result = await runTransform(
      { kind: 'copy', source: 'people', target: 'out', mapping: [{ source: '*', target: '*' }] },
      { source: db },
    );
    expect(result.fastPath).toBe(true);
    expect(await rows('select * from out order by id')).toEqual([
      { id: 1, country: 'uk', extra: null },
      { id: 2, country: 'UK', extra: null },
      { id: 3, country: 'fr', extra: null },
    ]);
    await expect(
      runTransform(
        {
          kind: 'copy',
          source: 'people',
          target: 'out',
          mapping: [{ source: 'id', target: 'id', transform: { type: 'function', definition: 'abs' } }],
        },
        { source: db },
      ),
    ).rejects.toMatchObject({ code: 'E_MAPPING', message: expect.stringMatching(/use kind "convert"/) });
  });

  it('convert maps with a filter', async () => {
    await peopleAndOut('who text');
    await runTransform(
      peopleToOut(
        [
          {
            source: 'name',
            target: 'who',
            transform: { type: 'function', definition: 'trim' },
            defaultValue: '?',
          },
        ],
        { kind: 'convert', filter: 'score > 0' },
      ),
      { source: db, fastPath: false },
    );
    expect(await rows('select * from out order by id')).toEqual([
      { id: 1, who: 'Ada Lovelace' },
      { id: 3, who: '?' },
    ]);
  });

  it('merge reads each source in turn and upserts by the target key', async () => {
    await people();
    await db.connection.execute('create table staff (id integer primary key, name text, email text)');
    await db.connection.execute(
      "insert into staff values (3, 'Grace Hopper', 'grace@example.com'), (4, 'Edsger', 'ed@example.com')",
    );
    await db.connection.execute('create table everyone (id integer primary key, name text, email text)');
    const result = await runTransform(
      {
        kind: 'merge',
        source: ['people', 'staff'],
        target: 'everyone',
        mapping: [
          { source: 'id', target: 'id' },
          { source: 'name', target: 'name' },
          { source: 'email', target: 'email', transform: { type: 'function', definition: 'lower' } },
        ],
      },
      { source: db },
    );
    expect(result).toMatchObject({ rowsRead: 5, fastPath: false });
    expect(await rows('select * from everyone order by id')).toEqual([
      { id: 1, name: '  Ada Lovelace ', email: 'ada@example.com' },
      { id: 2, name: 'Alan Turing', email: 'alan@example.com' },
      { id: 3, name: 'Grace Hopper', email: 'grace@example.com' },
      { id: 4, name: 'Edsger', email: 'ed@example.com' },
    ]);
  });

  for (const fastPath of [true, false]) {
    it(`split writes each source row to every target (fast path ${fastPath})`, async () => {
      await people();
      await db.connection.execute('create table names (id integer primary key, name text)');
      await db.connection.execute('create table mails (person_id integer primary key, email text)');
      const result = await runTransform(
        {
          kind: 'split',
          source: 'people',
          target: ['names', 'mails'],
          mapping: [
            { source: 'id', target: 'names.id' },
            { source: 'name', target: 'names.name', transform: { type: 'function', definition: 'upper' } },
            { source: 'id', target: 'mails.person_id' },
            { source: 'email', target: 'mails.email', transform: { type: 'function', definition: 'lower' } },
          ],
        },
        { source: db, fastPath },
      );
      expect(result).toMatchObject({ rowsRead: 3, rowsWritten: 6, fastPath });
      expect(await rows('select * from names order by id')).toEqual([
        { id: 1, name: '  ADA LOVELACE ' },
        { id: 2, name: 'ALAN TURING' },
        { id: 3, name: null },
      ]);
      expect(await rows('select * from mails order by person_id')).toEqual([
        { person_id: 1, email: 'ada@example.com' },
        { person_id: 2, email: 'alan@example.com' },
        { person_id: 3, email: '' },
      ]);
    });

    it(`enrich updates the source table in place by key (fast path ${fastPath})`, async () => {
      await people();
      const result = await runTransform(
        {
          kind: 'enrich',
          source: 'people',
          target: 'people',
          filter: 'id < 3',
          mapping: [
            { source: 'email', target: 'email', transform: { type: 'function', definition: 'lower' } },
            {
              source: 'country',
              target: 'country',
              transform: { type: 'lookup', definition: { uk: 'GB', UK: 'GB' } },
            },
          ],
        },
        { source: db, fastPath },
      );
      expect(result).toMatchObject({ rowsWritten: 2, fastPath });
      expect(await rows('select id, email, country from people order by id')).toEqual([
        { id: 1, email: 'ada@example.com', country: 'GB' },
        { id: 2, email: 'alan@example.com', country: 'GB' },
        { id: 3, email: '', country: 'fr' },
      ]);
    });
  }

  it('into a different database (streams: no fast path across connections)', async () => {
    await people();
    const other = await sqliteDb(db.dir.concat('')).catch(() => undefined);
    void other;
    const target = await sqliteDb();
    try {
      await target.connection.execute('create table out (id integer primary key, email text)');
      const result = await runTransform(peopleToOut([{ source: 'email', target: 'email' }]), {
        source: db,
        target,
      });
      expect(result).toMatchObject({ rowsWritten: 3, fastPath: false });
      expect((await target.rows('select count(*) as n from out'))[0]).toEqual({ n: 3 });
    } finally {
      await target.connection.close();
    }
  });
});

describe('fast path', () => {
  const spec = peopleToOut([
    { source: 'email', target: 'email', transform: { type: 'function', definition: 'lower' } },
  ]);
  const setup = () => peopleAndOut('email text');

  it('is taken when everything renders in SQL on one connection', async () => {
    await setup();
    const result = await runTransform(spec, { source: db });
    expect(result).toMatchObject({ fastPath: true, rowsRead: 3, rowsWritten: 3 });
  });

  it('is not taken with a custom function or validation rules', async () => {
    await setup();
    const registry = new TransformRegistry();
    registry.register('same', (v) => v);
    const withCustom = await runTransform(
      {
        ...spec,
        mapping: [
          ...spec.mapping.slice(0, 1),
          { source: 'email', target: 'email', transform: { type: 'custom', definition: 'same' } },
        ],
      },
      { source: db, registry },
    );
    expect(withCustom.fastPath).toBe(false);
    await db.connection.execute('delete from out');
    const withRules = await runTransform(
      { ...spec, validation: [{ field: 'email', rule: 'max_length:100', message: 'too long' }] },
      { source: db },
    );
    expect(withRules.fastPath).toBe(false);
    expect(await rows('select count(*) as n from out')).toEqual([{ n: 3 }]);
  });

  it('falls back to streaming when the statement fails, and then names the bad row', async () => {
    await setup();
    await db.connection.execute("insert into out values (2, 'taken')");
    await expect(runTransform(spec, { source: db })).rejects.toMatchObject({
      code: 'E_DATA',
      message: expect.stringMatching(/table out: row id=2 cannot be written: UNIQUE/),
    });
    expect(await rows('select * from out')).toEqual([{ id: 2, email: 'taken' }]);
  });
});

describe('streaming, commits and resume', () => {
  async function big(n: number) {
    db = await sqliteDb();
    await db.connection.execute('create table src (code text primary key, n integer not null)');
    await db.connection.execute(
      `with recursive s(i) as (select 1 union all select i + 1 from s where i < ${n})
       insert into src select printf('c-%06d', (i * 7919) % ${n}), i from s`,
    );
    await db.connection.execute('create table dst (code text primary key, n integer not null)');
  }
  const spec: TransformSpec = {
    source: 'src',
    target: 'dst',
    batchSize: 1000,
    mapping: [
      { source: 'code', target: 'code', transform: { type: 'function', definition: 'upper' } },
      { source: 'n', target: 'n' },
    ],
  };

  it('pages a text key with 25k rows in batches of 1000: every row exactly once, progress per batch', async () => {
    await big(25_000);
    const events: ProgressEvent[] = [];
    const result = await runTransform(spec, {
      source: db,
      fastPath: false,
      onProgress: (e) => events.push(e),
    });
    expect(result).toMatchObject({ rowsRead: 25_000, rowsWritten: 25_000 });
    expect(await rows('select count(*) as n, count(distinct code) as d, sum(n) as s from dst')).toEqual([
      { n: 25_000, d: 25_000, s: (25_000 * 25_001) / 2 },
    ]);
    expect(events.filter((e) => !e.done)).toHaveLength(25);
    for (const e of events) {
      expect(e).toMatchObject({ phase: 'transform', table: 'src', totalRows: 25_000 });
      expect(e.rowsPerSecond).toBeGreaterThanOrEqual(0);
      expect(e.etaSeconds).toBeGreaterThanOrEqual(0);
    }
    expect(events.at(-1)).toMatchObject({ rows: 25_000, done: true, etaSeconds: 0 });
  });

  it("commit 'end': an interruption leaves the target untouched", async () => {
    await big(5000);
    const controller = new AbortController();
    await expect(
      runTransform(spec, {
        source: db,
        fastPath: false,
        signal: controller.signal,
        onProgress: (e) => {
          if (e.rows >= 3000) controller.abort(new Error('stop'));
        },
      }),
    ).rejects.toThrow('stop');
    expect(await rows('select count(*) as n from dst')).toEqual([{ n: 0 }]);
  });

  it("commit 'batch': interrupted after batch 3 (signal), a rerun with the same jobId resumes and gives exactly the rows", async () => {
    await big(10_000);
    const controller = new AbortController();
    await expect(
      runTransform(spec, {
        source: db,
        commit: 'batch',
        jobId: 'job-1',
        fastPath: false,
        signal: controller.signal,
        onProgress: (e) => {
          if (e.rows === 3000) controller.abort(new Error('interrupted'));
        },
      }),
    ).rejects.toThrow('interrupted');
    expect(await rows('select count(*) as n from dst')).toEqual([{ n: 3000 }]);
    expect(await rows('select rows_done, status from cmpkg_checkpoints')).toEqual([
      { rows_done: 3000, status: 'running' },
    ]);
    const events: ProgressEvent[] = [];
    const result = await runTransform(spec, {
      source: db,
      commit: 'batch',
      jobId: 'job-1',
      onProgress: (e) => events.push(e),
    });
    expect(result).toMatchObject({ resumed: true, rowsRead: 7000, rowsWritten: 7000, fastPath: false });
    expect(events[0]!.rows).toBe(4000);
    expect(await rows('select count(*) as n, count(distinct code) as d, sum(n) as s from dst')).toEqual([
      { n: 10_000, d: 10_000, s: (10_000 * 10_001) / 2 },
    ]);
    expect(await rows('select count(*) as n from cmpkg_checkpoints')).toEqual([{ n: 0 }]);
  });

  it("commit 'batch': a throw from onProgress after batch 3 keeps three batches, and the rerun completes them", async () => {
    await big(4500);
    const stop = new Error('progress consumer failed');
    await expect(
      runTransform(spec, {
        source: db,
        commit: 'batch',
        jobId: 'job-2',
        fastPath: false,
        onProgress: (e) => {
          if (e.rows === 3000) throw stop;
        },
      }),
    ).rejects.toBe(stop);
    expect(await rows('select count(*) as n from dst')).toEqual([{ n: 3000 }]);
    const result = await runTransform(spec, { source: db, commit: 'batch', jobId: 'job-2' });
    expect(result).toMatchObject({ resumed: true, rowsRead: 1500 });
    expect(await rows('select count(*) as n, count(distinct code) as d from dst')).toEqual([
      { n: 4500, d: 4500 },
    ]);
  });

  it('a reject policy without a reject file is a usage error', async () => {
    await big(10);
    await expect(runTransform(spec, { source: db, onError: 'reject' })).rejects.toMatchObject({
      code: 'E_USAGE',
    });
    expect(existsSync(join(db.dir, 'rejects.ndjson'))).toBe(false);
  });
});

describe('createTransformRunner in a real migration', () => {
  it('runs a transform step through the Migrator (inside its transaction), and rolls back with it', async () => {
    db = await sqliteDb();
    await db.connection.execute('create table users (id integer primary key, email text)');
    await db.connection.execute("insert into users values (1, 'A@X.COM'), (2, 'B@X.COM')");
    const migration = (id: string, extraStep?: { id: string; name: string; sql: { universal: string } }) =>
      defineMigration({
        id,
        version: '1.0.0',
        name: id,
        steps: {
          up: [
            {
              id: 'create',
              name: 'create',
              sql: {
                universal: `create table ${id.replace(/-/g, '_')} (id integer primary key, email text)`,
              },
            },
            {
              id: 'fill',
              name: 'fill',
              transform: {
                source: 'users',
                target: id.replace(/-/g, '_'),
                mapping: [
                  { source: 'id', target: 'id' },
                  { source: 'email', target: 'email', transform: { type: 'function', definition: 'lower' } },
                ],
              },
            },
            ...(extraStep ? [extraStep] : []),
          ],
        },
      });
    const ok = new Migrator({
      dialect: db.dialect,
      connection: db.connection,
      plugin: { id: 'app', version: '1.0.0', migrations: [migration('m-1')] },
      transformRunner: createTransformRunner(),
    });
    const run = await ok.up();
    expect(run.error).toBeUndefined();
    expect(run.results[0]?.steps.find((s) => s.stepId === 'fill')?.rowsAffected).toBe(2);
    expect(await rows('select * from m_1 order by id')).toEqual([
      { id: 1, email: 'a@x.com' },
      { id: 2, email: 'b@x.com' },
    ]);

    const failing = new Migrator({
      dialect: db.dialect,
      connection: db.connection,
      plugin: {
        id: 'app',
        version: '1.0.0',
        migrations: [
          migration('m-1'),
          migration('m-2', { id: 'bad', name: 'bad', sql: { universal: 'select * from nowhere' } }),
        ],
      },
      transformRunner: createTransformRunner(),
    });
    const failed = await failing.up();
    expect(failed.error).toBeDefined();
    expect(await db.rows("select name from sqlite_master where name = 'm_2'")).toEqual([]);
  });

  it('a non-transactional step commits per batch under the step job id', async () => {
    db = await sqliteDb();
    await db.connection.execute('create table users (id integer primary key, email text)');
    await db.connection.execute("insert into users values (1, 'A@X.COM'), (2, 'B@X.COM'), (3, 'C@X.COM')");
    await db.connection.execute('create table out (id integer primary key, email text)');
    const registry = new TransformRegistry();
    registry.register('lower', (v) => String(v).toLowerCase());
    const migrator = new Migrator({
      dialect: db.dialect,
      connection: db.connection,
      plugin: {
        id: 'app',
        version: '1.0.0',
        migrations: [
          defineMigration({
            id: 'm-1',
            version: '1.0.0',
            name: 'm',
            steps: {
              up: [
                {
                  id: 'fill',
                  name: 'fill',
                  transactional: false,
                  transform: {
                    source: 'users',
                    target: 'out',
                    batchSize: 2,
                    mapping: [
                      { source: 'id', target: 'id' },
                      {
                        source: 'email',
                        target: 'email',
                        transform: { type: 'custom', definition: 'lower' },
                      },
                    ],
                  },
                },
              ],
            },
          }),
        ],
      },
      transformRunner: createTransformRunner({ registry }),
    });
    const run = await migrator.up();
    expect(run.error).toBeUndefined();
    expect(await outColumn('email')).toEqual(['a@x.com', 'b@x.com', 'c@x.com']);
  });
});
