import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BulkColumn, Connection, PortableValue } from '@cmpkg/core';
import { RejectLog, runBatchLoop, runTransform, type TransformSpec } from '@cmpkg/transform';
import { expect, it } from 'vitest';
import { describeEngines } from '../helpers/engines.js';
import { type OpenDatabase as Open, suiteDatabases } from './copy-helpers.js';

/**
 * Review findings of the transform engine, each a scenario that once lost, duplicated or corrupted
 * rows, or left a caller's transaction unusable. Every assertion reads the rows back.
 */

const open = suiteDatabases();

/** `src` with ids 1..n and n = id; `dst` has no key and refuses n >= 100. */
async function srcAndDst(o: Open, n: number, bad?: number): Promise<void> {
  await o.test.query('create table src (id integer primary key, n integer not null)');
  for (let i = 1; i <= n; i++) await o.test.query('insert into src values (?, ?)', [i, i === bad ? 500 : i]);
  await o.test.query('create table dst (id integer not null, n integer not null, check (n < 100))');
}

/** A spec reading `src` into `target` in batches of 2: `id` to `id`, then `second`. */
const fromSrc = (target: string, second: TransformSpec['mapping'][number]): TransformSpec => ({
  source: 'src',
  target,
  batchSize: 2,
  mapping: [{ source: 'id', target: 'id' }, second],
});

const copySpec = fromSrc('dst', { source: 'n', target: 'n' });

/**
 * Writes `rows` (one input batch, each row as it is) into `table` through runBatchLoop, rows
 * described as `id=<first value>`; `policy` is the error policy (and reject log).
 */
const writeRows = (
  o: Open,
  table: string,
  columns: BulkColumn[],
  rows: PortableValue[][],
  policy: { onError: 'abort' | 'reject'; rejects?: RejectLog },
) =>
  runBatchLoop<PortableValue[]>({
    db: o,
    name: table,
    targets: [{ table, columns }],
    input: (async function* () {
      yield { rows, lastKey: [rows.length] };
    })(),
    mapRow: (row) => [row],
    describeRow: (row) => `id=${String(row[0])}`,
    ...policy,
  });

const count = async (conn: Connection, table: string) =>
  Number((await conn.execute<{ c: unknown }>(`select count(*) as c from ${table}`)).rows[0]!.c);

describeEngines('transform review', (engine) => {
  it("inside the caller's transaction, a failed run leaves the target as before and the transaction usable", async () => {
    const o = await open(engine);
    await srcAndDst(o, 6, 5); // batches [1,2] [3,4] [5,6]: the third fails
    await o.connection.execute('BEGIN');
    await o.connection.execute('insert into dst values (100, 1)');
    await expect(runTransform(copySpec, { source: o, fastPath: false })).rejects.toMatchObject({
      code: 'E_DATA',
      message: expect.stringMatching(/id=5/),
    });
    // Only the caller's own row: none of batches 1-2, nor row 6's neighbours.
    expect(await count(o.connection, 'dst')).toBe(1);
    await o.connection.execute('insert into dst values (101, 2)');
    await o.connection.execute('COMMIT');
    expect((await o.test.query('select id from dst order by id')).map((r) => Number(r.id))).toEqual([
      100, 101,
    ]);
  });

  it("commit 'batch' aborted on a bad row, data fixed, rerun: every row exactly once (no fast-path re-insert)", async () => {
    const o = await open(engine);
    await srcAndDst(o, 6, 5);
    const options = { source: o, commit: 'batch' as const, jobId: 'fix-and-rerun' };
    await expect(runTransform(copySpec, options)).rejects.toMatchObject({ code: 'E_DATA' });
    expect(await o.test.count('dst')).toBe(4);
    await o.test.query('update src set n = 5 where id = 5');
    const result = await runTransform(copySpec, options);
    expect(result).toMatchObject({ resumed: true, rowsRead: 2 });
    expect((await o.test.query('select id from dst order by id')).map((r) => Number(r.id))).toEqual([
      1, 2, 3, 4, 5, 6,
    ]);
  });

  it('a value the server refuses (a data exception) is a row error: rejected, the rest written', async () => {
    const o = await open(engine);
    await o.test.query(
      engine === 'sqlite'
        ? 'create table narrow (id integer primary key, code integer) strict'
        : 'create table narrow (id integer primary key, code varchar(3))',
    );
    // Declared as text so nothing in JavaScript stops the long value: only the server does.
    const columns: BulkColumn[] = [
      { name: 'id', type: 'integer' },
      { name: 'code', type: 'text' },
    ];
    const rows: PortableValue[][] = [
      [1, '12'],
      [2, 'abcdef'],
      [3, '34'],
    ];
    const rejectFile = join(mkdtempSync(join(tmpdir(), 'cmpkg-review-')), 'rejects.ndjson');
    const rejects = await RejectLog.open(rejectFile);
    const result = await writeRows(o, 'narrow', columns, rows, { onError: 'reject', rejects });
    expect(result).toMatchObject({ rowsWritten: 2, rowsRejected: 1 });
    expect((await o.test.query('select id from narrow order by id')).map((r) => Number(r.id))).toEqual([
      1, 3,
    ]);
    expect(JSON.parse(readFileSync(rejectFile, 'utf8').trim())).toMatchObject({ key: 'id=2' });
  });
});

describeEngines('transform review (PostgreSQL transaction)', () => {
  it("inside the caller's transaction, a read that fails on the server leaves the transaction usable", async () => {
    const o = await open('postgresql');
    await srcAndDst(o, 4);
    await o.test.query('create table ratio (id integer not null, r integer)');
    const spec = fromSrc('ratio', {
      source: 'n',
      target: 'r',
      // The server fails on id 3, in the second page's SELECT.
      transform: {
        type: 'expression',
        definition: "CAST(CASE WHEN n = 3 THEN 'x' ELSE '1' END AS integer)",
      },
    });
    await o.connection.execute('BEGIN');
    await o.connection.execute('insert into ratio values (100, 1)');
    await expect(runTransform(spec, { source: o, fastPath: false })).rejects.toThrow(/invalid input syntax/);
    expect(await count(o.connection, 'ratio')).toBe(1);
    await o.connection.execute('insert into ratio values (101, 2)');
    await o.connection.execute('COMMIT');
    expect(await o.test.count('ratio')).toBe(2);
  });
}, ['postgresql']);

describeEngines('transform review (MySQL session)', () => {
  it('the bulk writer follows a sql_mode the session changed after connecting (NO_BACKSLASH_ESCAPES)', async () => {
    const o = await open('mysql');
    await o.test.query('create table notes (id integer primary key, body text)');
    await o.connection.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')");
    const writer = await o.dialect.bulkWriter(
      o.connection,
      'notes',
      [
        { name: 'id', type: 'integer' },
        { name: 'body', type: 'text' },
      ],
      {},
    );
    await writer.write([
      [1, 'C:\\temp\\x'],
      [2, "it's"],
    ]);
    await writer.close();
    expect(await o.test.query('select body from notes order by id')).toEqual([
      { body: 'C:\\temp\\x' },
      { body: "it's" },
    ]);
  });

  it('a value the MySQL writer refuses (NaN) is a row error: rejected, or named under abort', async () => {
    const o = await open('mysql');
    await o.test.query('create table m (id integer primary key, x double)');
    const columns: BulkColumn[] = [
      { name: 'id', type: 'integer' },
      { name: 'x', type: 'double' },
    ];
    const rows: PortableValue[][] = [
      [1, 1.5],
      [2, Number.NaN],
      [3, 2.5],
    ];
    const loop = (policy: { onError: 'abort' | 'reject'; rejects?: RejectLog }) =>
      writeRows(o, 'm', columns, rows, policy);
    await expect(loop({ onError: 'abort' })).rejects.toMatchObject({
      code: 'E_DATA',
      message: expect.stringMatching(/row id=2 cannot be written/),
    });
    expect(await o.test.count('m')).toBe(0);
    const rejectFile = join(mkdtempSync(join(tmpdir(), 'cmpkg-review-')), 'rejects.ndjson');
    const result = await loop({ onError: 'reject', rejects: await RejectLog.open(rejectFile) });
    expect(result).toMatchObject({ rowsWritten: 2, rowsRejected: 1 });
    expect((await o.test.query('select id from m order by id')).map((r) => Number(r.id))).toEqual([1, 3]);
  });
}, ['mysql']);
