import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineMigration, Migrator } from '@cmpkg/core';
import {
  createTransformRunner,
  type ProgressEvent,
  runTransform,
  TransformRegistry,
  type TransformSpec,
} from '@cmpkg/transform';
import { expect, it } from 'vitest';
import { describeEngines } from '../helpers/engines.js';
import { type OpenDatabase as Open, suiteDatabases } from './copy-helpers.js';

/**
 * The transform engine on real servers (and SQLite): every built-in function (streamed, and in SQL
 * where the engine has a rendering), lookups, expressions, custom functions, validation, the five
 * kinds, the fast path, keyset paging over 25k rows, batch commits with resume, and transform steps
 * inside the Migrator. Every assertion reads the rows back from the database.
 */

const open = suiteDatabases();

const PEOPLE = [
  [
    1,
    '  Ada Lovelace ',
    'ADA@Example.com',
    12.345,
    'uk',
    '{"a":{"b":[10,20]},"s":"x"}',
    '1815-12-10T08:00:00Z',
    'yes',
  ],
  [2, 'Alan Turing', 'alan@example.com', -2.5, 'UK', '{"a":{"b":[30]}}', '1912-06-23', '0'],
  [3, null, '', 7, 'fr', null, null, null],
];

async function people(o: Open): Promise<void> {
  await o.test.query(
    'create table people (id integer primary key, name text, email text, score double precision, country varchar(10), tags text, born text, active text)',
  );
  for (const row of PEOPLE) await o.test.query('insert into people values (?, ?, ?, ?, ?, ?, ?, ?)', row);
}

/** `people`, and an empty `dst` with `id integer primary key` and then `columns` (SQL). */
async function peopleAndDst(o: Open, columns: string): Promise<void> {
  await people(o);
  await o.test.query(`create table dst (id integer primary key, ${columns})`);
}

/** A spec reading `people` into `dst`: `id` to `id`, then `mapping`; `extra` adds to or replaces fields. */
const peopleToDst = (
  mapping: TransformSpec['mapping'],
  extra: Partial<TransformSpec> = {},
): TransformSpec => ({
  source: 'people',
  target: 'dst',
  mapping: [{ source: 'id', target: 'id' }, ...mapping],
  ...extra,
});

/** `email` to `email`, lower-cased (renders in SQL on every engine). */
const LOWER_EMAIL: TransformSpec['mapping'][number] = {
  source: 'email',
  target: 'email',
  transform: { type: 'function', definition: 'lower' },
};

const values = async (o: Open, sql: string) => (await o.test.query(sql)).map((r) => Object.values(r)[0]);
const num = (v: unknown) => (v === null ? null : Number(v));
const bool = (v: unknown) => (v === null ? null : Boolean(Number(v === true ? 1 : v === false ? 0 : v)));

describeEngines('transform', (engine) => {
  // [function, source column, parameters, target SQL type, normalise, expected for ids 1..3]
  const cases: Array<[string, string, unknown, string, (v: unknown) => unknown, unknown[]]> = [
    ['upper', 'email', undefined, 'text', String, ['ADA@EXAMPLE.COM', 'ALAN@EXAMPLE.COM', '']],
    ['lower', 'email', undefined, 'text', String, ['ada@example.com', 'alan@example.com', '']],
    ['trim', 'name', undefined, 'text', (v) => v, ['Ada Lovelace', 'Alan Turing', null]],
    ['round', 'score', [1], 'double precision', num, [12.3, -2.5, 7]],
    ['round', 'score', undefined, 'double precision', num, [12, -3, 7]],
    ['concat', 'country', ['-', { column: 'id' }], 'text', String, ['uk-1', 'UK-2', 'fr-3']],
    ['split', 'email', { separator: '@', index: 1 }, 'text', (v) => v, ['Example.com', 'example.com', null]],
    ['coalesce', 'name', ['(none)'], 'text', String, ['  Ada Lovelace ', 'Alan Turing', '(none)']],
    ['number', 'score', undefined, 'double precision', num, [12.345, -2.5, 7]],
    ['boolean', 'active', undefined, 'boolean', bool, [true, false, null]],
    ['date', 'born', undefined, 'text', (v) => v, ['1815-12-10', '1912-06-23', null]],
    ['json_extract', 'tags', ['$.a.b[1]'], 'integer', num, [20, null, null]],
    ['substring', 'email', [1, 3], 'text', String, ['ADA', 'ala', '']],
    ['replace', 'email', ['example', 'test'], 'text', String, ['ADA@Example.com', 'alan@test.com', '']],
    ['abs', 'score', undefined, 'double precision', num, [12.345, 2.5, 7]],
    ['floor', 'score', undefined, 'integer', num, [12, -3, 7]],
    ['ceil', 'score', undefined, 'integer', num, [13, -2, 7]],
    ['lpad', 'id', [3, '0'], 'text', String, ['001', '002', '003']],
    ['rpad', 'country', [4, '.'], 'text', String, ['uk..', 'UK..', 'fr..']],
    ['default_if_empty', 'email', ['n/a'], 'text', String, ['ADA@Example.com', 'alan@example.com', 'n/a']],
    ['length', 'email', undefined, 'integer', num, [15, 16, 0]],
  ];

  it('every built-in function gives the expected rows, streamed and (where rendered) in SQL', async () => {
    const o = await open(engine);
    await people(o);
    const fast: string[] = [];
    for (const [fn, column, parameters, type, normalise, expected] of cases) {
      await o.test.query(`create table dst (id integer primary key, v ${type})`);
      const spec = peopleToDst([
        {
          source: column,
          target: 'v',
          transform: {
            type: 'function',
            definition: fn,
            ...(parameters ? { parameters: parameters as [] } : {}),
          },
        },
      ]);
      await runTransform(spec, { source: o, fastPath: false });
      expect({ fn, values: (await values(o, 'select v from dst order by id')).map(normalise) }).toEqual({
        fn,
        values: expected,
      });
      await o.test.query('delete from dst');
      const result = await runTransform(spec, { source: o });
      if (result.fastPath) fast.push(fn);
      expect({
        fn,
        fast: result.fastPath,
        values: (await values(o, 'select v from dst order by id')).map(normalise),
      }).toEqual({
        fn,
        fast: result.fastPath,
        values: expected,
      });
      await o.test.query('drop table dst');
    }
    // The renderings exist where the engine has the function.
    expect(fast).toEqual(
      expect.arrayContaining(['upper', 'lower', 'trim', 'round', 'concat', 'substring', 'replace', 'length']),
    );
  });

  it('uuid is new per row; lookup with default; expression with a subquery; custom', async () => {
    const o = await open(engine);
    await people(o);
    await o.test.query('create table countries (code varchar(10) primary key, name text)');
    await o.test.query("insert into countries values ('uk', 'United Kingdom'), ('fr', 'France')");
    await o.test.query(
      'create table dst (id integer primary key, u varchar(36), c text, label text, tag text)',
    );
    const registry = new TransformRegistry();
    registry.register(
      'tag',
      (value, row, parameters) => `${(parameters as string[])[0]}${value}/${row.country}`,
    );
    const result = await runTransform(
      {
        kind: 'enrich',
        source: 'people',
        target: 'dst',
        mapping: [
          { source: 'id', target: 'id' },
          { source: 'id', target: 'u', transform: { type: 'function', definition: 'uuid' } },
          {
            source: 'country',
            target: 'c',
            transform: { type: 'lookup', definition: { uk: 'GB', fr: 'FR' } },
            defaultValue: '??',
          },
          {
            source: '*',
            target: 'label',
            transform: {
              type: 'expression',
              definition: 'select c.name from countries c where c.code = people.country',
            },
          },
          {
            source: 'id',
            target: 'tag',
            transform: { type: 'custom', definition: 'tag', parameters: ['#'] },
          },
        ],
      },
      { source: o, registry },
    );
    expect(result).toMatchObject({ rowsWritten: 3, fastPath: false });
    const rows = await o.test.query('select u, c, label, tag from dst order by id');
    expect(new Set(rows.map((r) => r.u)).size).toBe(3);
    for (const r of rows) expect(String(r.u)).toMatch(/^[0-9a-f-]{36}$/);
    // MariaDB compares case-insensitively: 'UK' finds 'uk' in the subquery, but not in the lookup.
    expect(rows.map((r) => [r.c, r.label, r.tag])).toEqual([
      ['GB', 'United Kingdom', '#1/uk'],
      ['??', engine === 'mysql' ? 'United Kingdom' : null, '#2/UK'],
      ['FR', 'France', '#3/fr'],
    ]);
  });

  it('a custom function that throws stops with E_TRANSFORM_FAILED and the target is unchanged', async () => {
    const o = await open(engine);
    await peopleAndDst(o, 'v text');
    await o.test.query("insert into dst values (99, 'before')");
    const registry = new TransformRegistry();
    registry.register('explode', (value) => {
      if (Number(value) === 3) throw new Error('no 3');
      return 'ok';
    });
    await expect(
      runTransform(
        peopleToDst([{ source: 'id', target: 'v', transform: { type: 'custom', definition: 'explode' } }], {
          batchSize: 1,
        }),
        { source: o, registry },
      ),
    ).rejects.toMatchObject({ code: 'E_TRANSFORM_FAILED', message: expect.stringMatching(/no 3/) });
    expect(await o.test.query('select id, v from dst')).toEqual([{ id: 99, v: 'before' }]);
  });

  it('unknown column, table or function is E_MAPPING before anything is written', async () => {
    const o = await open(engine);
    await peopleAndDst(o, 'v text');
    const bad: Array<[TransformSpec, RegExp]> = [
      [peopleToDst([{ source: 'nope', target: 'v' }]), /no column "nope"/],
      [peopleToDst([{ source: 'name', target: 'nope' }]), /no column "nope" in target/],
      [peopleToDst([], { source: 'ghosts' }), /unknown source table "ghosts"/],
      [
        peopleToDst([{ source: 'name', target: 'v', transform: { type: 'function', definition: 'shout' } }]),
        /unknown function "shout"/,
      ],
    ];
    for (const [spec, message] of bad) {
      await expect(runTransform(spec, { source: o })).rejects.toMatchObject({
        code: 'E_MAPPING',
        message: expect.stringMatching(message),
      });
    }
    expect(await o.test.count('dst')).toBe(0);
  });

  it('validation: error aborts (target unchanged) or rejects (reject file has the row); warnings count', async () => {
    const o = await open(engine);
    await peopleAndDst(o, 'email text');
    const spec = peopleToDst([LOWER_EMAIL], {
      validation: [
        { field: 'email', rule: 'email', message: 'not an address' },
        { field: 'email', rule: 'max_length:15', message: 'long', severity: 'warning' },
      ],
    });
    await expect(runTransform(spec, { source: o })).rejects.toMatchObject({
      code: 'E_DATA',
      message: expect.stringMatching(/row id=3: not an address/),
    });
    expect(await o.test.count('dst')).toBe(0);
    const rejectFile = join(mkdtempSync(join(tmpdir(), 'cmpkg-rejects-')), 'rejects.ndjson');
    const result = await runTransform(spec, { source: o, onError: 'reject', rejectFile });
    expect(result).toMatchObject({ rowsWritten: 2, rowsRejected: 1, fastPath: false });
    expect(result.warnings).toEqual([{ field: 'email', rule: 'max_length:15', message: 'long', count: 1 }]);
    expect((await values(o, 'select id from dst order by id')).map(num)).toEqual([1, 2]);
    expect(
      readFileSync(rejectFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([{ table: 'people', key: 'id=3', error: 'not an address', field: 'email', rule: 'email' }]);
  });

  it('kinds: copy, convert, merge, split, enrich give exactly the expected rows', async () => {
    const o = await open(engine);
    await people(o);
    // copy
    await o.test.query('create table copied (id integer primary key, country varchar(10))');
    const copy = await runTransform(
      { kind: 'copy', source: 'people', target: 'copied', mapping: [{ source: '*', target: '*' }] },
      { source: o },
    );
    expect(copy.fastPath).toBe(true);
    expect(await o.test.query('select id, country from copied order by id')).toEqual([
      { id: 1, country: 'uk' },
      { id: 2, country: 'UK' },
      { id: 3, country: 'fr' },
    ]);
    // convert (with a filter)
    await o.test.query('create table converted (id integer primary key, who text)');
    await runTransform(
      {
        kind: 'convert',
        source: 'people',
        target: 'converted',
        filter: 'score > 0',
        mapping: [
          { source: 'id', target: 'id' },
          {
            source: 'name',
            target: 'who',
            transform: { type: 'function', definition: 'trim' },
            defaultValue: '?',
          },
        ],
      },
      { source: o, fastPath: false },
    );
    expect(await o.test.query('select id, who from converted order by id')).toEqual([
      { id: 1, who: 'Ada Lovelace' },
      { id: 3, who: '?' },
    ]);
    // merge (upsert by the target key: the later source wins)
    await o.test.query('create table staff (id integer primary key, name text)');
    await o.test.query("insert into staff values (3, 'Grace'), (4, 'Edsger')");
    await o.test.query('create table everyone (id integer primary key, name text)');
    await runTransform(
      {
        kind: 'merge',
        source: ['people', 'staff'],
        target: 'everyone',
        mapping: [
          { source: 'id', target: 'id' },
          { source: 'name', target: 'name' },
        ],
      },
      { source: o },
    );
    expect(await o.test.query('select id, name from everyone order by id')).toEqual([
      { id: 1, name: '  Ada Lovelace ' },
      { id: 2, name: 'Alan Turing' },
      { id: 3, name: 'Grace' },
      { id: 4, name: 'Edsger' },
    ]);
    // split
    await o.test.query('create table names (id integer primary key, name text)');
    await o.test.query('create table mails (person_id integer primary key, email text)');
    await runTransform(
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
      { source: o, fastPath: false },
    );
    expect(await o.test.query('select id, name from names order by id')).toEqual([
      { id: 1, name: '  ADA LOVELACE ' },
      { id: 2, name: 'ALAN TURING' },
      { id: 3, name: null },
    ]);
    expect(await o.test.query('select person_id, email from mails order by person_id')).toEqual([
      { person_id: 1, email: 'ada@example.com' },
      { person_id: 2, email: 'alan@example.com' },
      { person_id: 3, email: '' },
    ]);
    // enrich in place, streamed and fast
    for (const fastPath of [false, true]) {
      const result = await runTransform(
        {
          kind: 'enrich',
          source: 'people',
          target: 'people',
          filter: 'id < 3',
          mapping: [
            {
              source: 'email',
              target: 'email',
              transform: { type: 'function', definition: fastPath ? 'upper' : 'lower' },
            },
          ],
        },
        { source: o, fastPath },
      );
      expect(result).toMatchObject({ rowsWritten: 2, fastPath });
      expect(await values(o, 'select email from people order by id')).toEqual(
        fastPath ? ['ADA@EXAMPLE.COM', 'ALAN@EXAMPLE.COM', ''] : ['ada@example.com', 'alan@example.com', ''],
      );
    }
  });

  it('fast path: taken when everything renders, not with a custom function or validation rules', async () => {
    const o = await open(engine);
    await peopleAndDst(o, 'email text');
    const spec = peopleToDst([LOWER_EMAIL]);
    expect((await runTransform(spec, { source: o })).fastPath).toBe(true);
    await o.test.query('delete from dst');
    const registry = new TransformRegistry();
    registry.register('same', (v) => v);
    const custom = await runTransform(
      {
        ...spec,
        mapping: [
          { source: 'id', target: 'id' },
          { source: 'email', target: 'email', transform: { type: 'custom', definition: 'same' } },
        ],
      },
      { source: o, registry },
    );
    expect(custom.fastPath).toBe(false);
    await o.test.query('delete from dst');
    const rules = await runTransform(
      { ...spec, validation: [{ field: 'id', rule: 'min:0', message: 'negative' }] },
      { source: o },
    );
    expect(rules.fastPath).toBe(false);
    expect(await o.test.count('dst')).toBe(3);
  });

  async function big(o: Open, n: number): Promise<void> {
    await o.test.query(
      'create table src (tenant integer not null, code varchar(20) not null, n integer not null, primary key (tenant, code))',
    );
    const series =
      engine === 'postgresql'
        ? `select i from generate_series(1, ${n}) as s(i)`
        : `with recursive s(i) as (select 1 union all select i + 1 from s where i < ${n}) select i from s`;
    const code =
      engine === 'mysql'
        ? "concat('c-', lpad(i, 6, '0'))"
        : engine === 'postgresql'
          ? "'c-' || lpad(i::text, 6, '0')"
          : "printf('c-%06d', i)";
    // MariaDB stops recursive CTEs after 1000 iterations unless told otherwise (same session).
    if (engine === 'mysql') await o.test.query(`set session max_recursive_iterations = ${n + 10}`);
    await o.test.query(
      engine === 'mysql'
        ? `insert into src (tenant, code, n) with recursive s(i) as (select 1 union all select i + 1 from s where i < ${n}) select i % 7, ${code}, i from s`
        : `insert into src (tenant, code, n) select i % 7, ${code}, i from (${series}) as t`,
    );
    await o.test.query('create table dst (code varchar(20) primary key, n integer not null)');
  }
  const bigSpec: TransformSpec = {
    source: 'src',
    target: 'dst',
    batchSize: 1000,
    mapping: [
      { source: 'code', target: 'code', transform: { type: 'function', definition: 'upper' } },
      { source: 'n', target: 'n' },
    ],
  };

  it('keyset paging over a composite key (int, text): 25k rows in batches of 1000, each exactly once', async () => {
    const o = await open(engine);
    await big(o, 25_000);
    const events: ProgressEvent[] = [];
    const result = await runTransform(bigSpec, {
      source: o,
      fastPath: false,
      onProgress: (e) => events.push(e),
    });
    expect(result).toMatchObject({ rowsRead: 25_000, rowsWritten: 25_000 });
    const [agg] = await o.test.query('select count(*) as c, count(distinct code) as d, sum(n) as s from dst');
    expect([Number(agg!.c), Number(agg!.d), Number(agg!.s)]).toEqual([25_000, 25_000, (25_000 * 25_001) / 2]);
    expect(events.filter((e) => !e.done)).toHaveLength(25);
    expect(events[0]).toMatchObject({ rows: 1000, totalRows: 25_000 });
    expect(events[0]!.etaSeconds).toBeGreaterThanOrEqual(0);
  });

  it("commit 'batch' interrupted after batch 3, rerun with the same jobId: exactly the rows, resumed", async () => {
    const o = await open(engine);
    await big(o, 5_500);
    const controller = new AbortController();
    await expect(
      runTransform(bigSpec, {
        source: o,
        commit: 'batch',
        jobId: 'resume-test',
        fastPath: false,
        signal: controller.signal,
        onProgress: (e) => {
          if (e.rows === 3000) controller.abort(new Error('interrupted'));
        },
      }),
    ).rejects.toThrow('interrupted');
    expect(await o.test.count('dst')).toBe(3000);
    const result = await runTransform(bigSpec, {
      source: o,
      commit: 'batch',
      jobId: 'resume-test',
      fastPath: false,
    });
    expect(result).toMatchObject({ resumed: true, rowsRead: 2500 });
    const [agg] = await o.test.query('select count(*) as c, count(distinct code) as d, sum(n) as s from dst');
    expect([Number(agg!.c), Number(agg!.d), Number(agg!.s)]).toEqual([5_500, 5_500, (5_500 * 5_501) / 2]);
  });

  it('a transform step inside a real migration (Migrator + createTransformRunner)', async () => {
    const o = await open(engine);
    await people(o);
    const migrator = new Migrator({
      dialect: o.dialect,
      connection: o.connection,
      plugin: {
        id: 'app',
        version: '1.0.0',
        migrations: [
          defineMigration({
            id: 'm-1',
            version: '1.0.0',
            name: 'copy people',
            steps: {
              up: [
                {
                  id: 'create',
                  name: 'create',
                  sql: { universal: 'create table folks (id integer primary key, email text)' },
                },
                {
                  id: 'fill',
                  name: 'fill',
                  transform: {
                    source: 'people',
                    target: 'folks',
                    mapping: [
                      { source: 'id', target: 'id' },
                      {
                        source: 'email',
                        target: 'email',
                        transform: { type: 'function', definition: 'lower' },
                      },
                    ],
                  },
                },
                {
                  id: 'fill-more',
                  name: 'fill more',
                  transactional: false,
                  transform: {
                    kind: 'enrich',
                    source: 'folks',
                    target: 'folks',
                    batchSize: 1,
                    mapping: [
                      {
                        source: 'email',
                        target: 'email',
                        transform: { type: 'function', definition: 'default_if_empty', parameters: ['none'] },
                      },
                    ],
                    validation: [{ field: 'email', rule: 'min_length:1', message: 'empty' }],
                  },
                },
              ],
            },
          }),
        ],
      },
      transformRunner: createTransformRunner(),
    });
    const run = await migrator.up();
    expect(run.error).toBeUndefined();
    expect(run.results[0]?.status).toBe('applied');
    expect(await o.test.query('select id, email from folks order by id')).toEqual([
      { id: 1, email: 'ada@example.com' },
      { id: 2, email: 'alan@example.com' },
      { id: 3, email: 'none' },
    ]);
  });
});
