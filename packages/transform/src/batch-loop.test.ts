import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BulkColumn, PortableValue } from '@cmpkg/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type BatchLoopOptions, RowError, runBatchLoop } from './batch-loop.js';
import { CheckpointStore } from './checkpoint-store.js';
import type { ProgressEvent } from './progress.js';
import { RejectLog } from './reject-log.js';
import { readTable } from './table-reader.js';
import { sqliteDb } from './test-support.js';

type Db = Awaited<ReturnType<typeof sqliteDb>>;
let db: Db;
afterEach(async () => {
  await db?.connection.close();
});

const columns: BulkColumn[] = [
  { name: 'id', type: 'integer' },
  { name: 'name', type: 'text' },
];

async function setup(n: number) {
  db = await sqliteDb();
  await db.connection.execute('create table src (id integer primary key, name text)');
  await db.connection.execute('create table dst (id integer primary key, name text not null unique)');
  for (let i = 1; i <= n; i++) await db.connection.execute('insert into src values (?, ?)', [i, `n${i}`]);
}

const input = (batchSize: number, after?: PortableValue[]) =>
  readTable(db, { table: 'src', columns, key: ['id'], batchSize, ...(after ? { after } : {}) });

/**
 * runBatchLoop copying `src` into `dst` row for row (described as `id=<id>`), read in batches of
 * `batchSize`; `options` adds to or replaces any of these.
 */
const copyLoop = (batchSize: number, options: Partial<BatchLoopOptions<PortableValue[]>> = {}) =>
  runBatchLoop<PortableValue[]>({
    db,
    name: 'src',
    targets: [{ table: 'dst', columns }],
    input: input(batchSize),
    mapRow: (row) => [row],
    describeRow: (row) => `id=${row[0]}`,
    ...options,
  });

describe('runBatchLoop', () => {
  it('writes every batch, reports progress per batch, and marks the checkpoint done', async () => {
    await setup(25);
    const store = await CheckpointStore.open(db);
    const events: ProgressEvent[] = [];
    const result = await copyLoop(10, {
      checkpoint: { store, jobId: 'j1' },
      totalRows: 25,
      onProgress: (e) => events.push(e),
    });
    expect(result).toMatchObject({
      rowsRead: 25,
      rowsWritten: 25,
      rowsRejected: 0,
      batches: 3,
      lastKey: [25],
    });
    expect(await db.rows('select count(*) as n from dst')).toEqual([{ n: 25 }]);
    expect(events.map((e) => [e.rows, e.done])).toEqual([
      [10, false],
      [20, false],
      [25, false],
      [25, true],
    ]);
    expect(events[0]!.totalRows).toBe(25);
    expect(typeof events[0]!.rowsPerSecond).toBe('number');
    expect(await store.get('j1', 'src', ['integer'])).toMatchObject({
      lastKey: [25],
      rowsDone: 25,
      status: 'done',
    });
  });

  it('isolates rows that violate a constraint into the reject log and writes the others', async () => {
    await setup(6);
    await db.connection.execute("update src set name = 'dup' where id in (2, 5)");
    const file = join(db.dir, 'rejects.ndjson');
    const rejects = await RejectLog.open(file);
    const result = await copyLoop(100, {
      mapRow: (row) => {
        if (row[0] === 3) throw new RowError('id 3 is not wanted', { field: 'id', rule: 'max:2' });
        return [row];
      },
      onError: 'reject',
      rejects,
    });
    expect(result).toMatchObject({ rowsRead: 6, rowsWritten: 4, rowsRejected: 2 });
    expect(await db.rows('select id from dst order by id')).toEqual([
      { id: 1 },
      { id: 2 },
      { id: 4 },
      { id: 6 },
    ]);
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { table: 'src', key: 'id=3', error: 'id 3 is not wanted', field: 'id', rule: 'max:2' },
      expect.objectContaining({ table: 'src', key: 'id=5', error: expect.stringMatching(/UNIQUE/) }),
    ]);
  });

  it('aborts on a constraint violation with E_DATA naming the table and the first bad row, rolling back the batch', async () => {
    await setup(6);
    await db.connection.execute("update src set name = 'dup' where id in (2, 5)");
    await expect(copyLoop(100)).rejects.toMatchObject({
      code: 'E_DATA',
      message: expect.stringMatching(/table dst: row id=5 cannot be written/),
    });
    expect(await db.rows('select count(*) as n from dst')).toEqual([{ n: 0 }]);
  });

  it('a split row is written to all its targets or to none', async () => {
    await setup(3);
    await db.connection.execute('create table dst2 (id integer primary key, len integer check (len < 2))');
    const rejects = await RejectLog.open(join(db.dir, 'r.ndjson'));
    const result = await copyLoop(10, {
      targets: [
        { table: 'dst', columns },
        {
          table: 'dst2',
          columns: [
            { name: 'id', type: 'integer' },
            { name: 'len', type: 'integer' },
          ],
        },
      ],
      mapRow: (row) => [row, [row[0]!, Number(row[0]) === 2 ? 5 : 1]],
      onError: 'reject',
      rejects,
    });
    expect(result).toMatchObject({ rowsWritten: 4, rowsRejected: 1 });
    expect(await db.rows('select id from dst order by id')).toEqual([{ id: 1 }, { id: 3 }]);
    expect(await db.rows('select id from dst2 order by id')).toEqual([{ id: 1 }, { id: 3 }]);
  });

  it('stops when a progress callback throws after batch 2, and a rerun from the checkpoint completes the rows exactly', async () => {
    await setup(35);
    const store = await CheckpointStore.open(db);
    const boom = new Error('stop');
    await expect(
      copyLoop(10, {
        checkpoint: { store, jobId: 'j' },
        onProgress: (e) => {
          if (e.rows === 20) throw boom;
        },
      }),
    ).rejects.toBe(boom);
    const cp = await store.get('j', 'src', ['integer']);
    expect(cp).toMatchObject({ lastKey: [20], rowsDone: 20, status: 'running' });
    const result = await copyLoop(10, {
      input: input(10, cp!.lastKey!),
      checkpoint: { store, jobId: 'j', rowsDone: cp!.rowsDone },
    });
    expect(result.rowsRead).toBe(15);
    expect(
      await db.rows('select count(*) as n, count(distinct id) as d, min(id) as lo, max(id) as hi from dst'),
    ).toEqual([{ n: 35, d: 35, lo: 1, hi: 35 }]);
  });

  it('rolls back the current batch and rethrows an error that is not a row error', async () => {
    await setup(5);
    const failure = new Error('custom failure');
    await expect(
      copyLoop(2, {
        mapRow: (row) => {
          if (row[0] === 4) throw failure;
          return [row];
        },
      }),
    ).rejects.toBe(failure);
    // Batches 1 and 2 (ids 1-4: the second batch failed while mapping) — only the first committed.
    expect(await db.rows('select id from dst order by id')).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('requires a reject log for the reject policy', async () => {
    await setup(1);
    await expect(copyLoop(2, { describeRow: () => '', onError: 'reject' })).rejects.toMatchObject({
      code: 'E_MAPPING',
    });
  });
});
