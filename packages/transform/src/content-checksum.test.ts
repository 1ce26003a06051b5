import { canonicalValueText, type PortableType, sha256Hex } from '@cmpkg/core';
import { afterEach, describe, expect, it } from 'vitest';
import { CheckpointStore } from './checkpoint-store.js';
import { ContentChecksum, tableChecksum } from './content-checksum.js';
import { ProgressTracker } from './progress.js';
import { sqliteDb } from './test-support.js';

type Db = Awaited<ReturnType<typeof sqliteDb>>;
let db: Db | undefined;
afterEach(async () => {
  await db?.connection.close();
  db = undefined;
});

const types: PortableType[] = ['integer', 'decimal(10,2)', 'json', 'text'];

describe('ContentChecksum', () => {
  it('is independent of row order and of equal spellings, and sensitive to any value', () => {
    const rows = Array.from({ length: 50 }, (_, i) => [i, `${i}.50`, `{"b":${i},"a":1}`, `t${i}`]);
    const a = new ContentChecksum();
    for (const r of rows) a.add(types, r);
    const b = new ContentChecksum();
    for (const r of [...rows].reverse())
      b.add(types, [r[0]!, String(r[1]).replace('.50', '.5'), `{"a":1,"b":${r[0]}}`, r[3]!]);
    expect(a.rows).toBe(50);
    expect(a.digest()).toMatch(/^sum128:[0-9a-f]{32}$/);
    expect(b.digest()).toBe(a.digest());
    const c = new ContentChecksum();
    for (const r of rows) c.add(types, r[0] === 7 ? [7, '7.51', r[2]!, r[3]!] : r);
    expect(c.digest()).not.toBe(a.digest());
    // A duplicated row is not the same table as the row once.
    const d = new ContentChecksum();
    d.add(types, rows[0]!);
    d.add(types, rows[0]!);
    const e = new ContentChecksum();
    e.add(types, rows[0]!);
    expect(d.digest()).not.toBe(e.digest());
  });

  it('is the sum mod 2^128 of the first 16 bytes of sha256(canonical row text), as documented', () => {
    const rows = [
      [1, 'a'],
      [2, 'é\u001f'],
      [3, null],
    ];
    const t: PortableType[] = ['integer', 'text'];
    let expected = 0n;
    const sum = new ContentChecksum();
    for (const r of rows) {
      sum.add(t, r);
      const text = r
        .map((v, i) => {
          if (v === null) return 'N';
          const c = canonicalValueText(t[i]!, v);
          return `${c.length}:${c}`;
        })
        .join('');
      expected = (expected + BigInt(`0x${sha256Hex(text).slice(0, 32)}`)) % 2n ** 128n;
    }
    expect(sum.digest()).toBe(`sum128:${expected.toString(16).padStart(32, '0')}`);
  });

  it('tells apart rows whose values would run together, and NULL from a NUL character', () => {
    const digest = (rows: (string | null)[][]) => {
      const sum = new ContentChecksum();
      for (const r of rows) sum.add(['text', 'text'], r);
      return sum.digest();
    };
    expect(digest([['a\u001fb', 'c']])).not.toBe(digest([['a', 'b\u001fc']]));
    expect(digest([['1:a', 'b']])).not.toBe(digest([['1', 'a1:b']]));
    expect(digest([['\u0000', 'x']])).not.toBe(digest([[null, 'x']]));
    expect(digest([['N', 'x']])).not.toBe(digest([[null, 'x']]));
  });

  it('merges partial sums into the sum of the whole', () => {
    const whole = new ContentChecksum();
    const left = new ContentChecksum();
    const right = new ContentChecksum();
    for (let i = 0; i < 200; i++) {
      whole.add(['integer'], [i]);
      (i % 2 ? left : right).add(['integer'], [i]);
    }
    left.merge(right);
    expect(left.digest()).toBe(whole.digest());
    expect(left.rows).toBe(200);
  });

  it('tableChecksum equals the checksum of the same rows added by hand, whatever the key', async () => {
    db = await sqliteDb();
    await db.connection.execute('create table t (id integer primary key, v text)');
    const sum = new ContentChecksum();
    for (let i = 1; i <= 30; i++) {
      await db.connection.execute('insert into t values (?, ?)', [i, `v${i}`]);
      sum.add(['integer', 'text'], [i, `v${i}`]);
    }
    const columns = [
      { name: 'id', type: 'integer' as const },
      { name: 'v', type: 'text' as const },
    ];
    expect(await tableChecksum(db, 't', columns, undefined, { batchSize: 7 })).toEqual({
      rows: 30,
      checksum: sum.digest(),
    });
    expect(await tableChecksum(db, 't', columns, [])).toEqual({ rows: 30, checksum: sum.digest() });
  });
});

describe('CheckpointStore', () => {
  it('creates its table once, saves, reads typed keys back, lists and clears', async () => {
    db = await sqliteDb();
    const store = await CheckpointStore.open(db);
    await CheckpointStore.open(db);
    await store.save('job', 'a', [9007199254740993n, 'k', Buffer.from('hi')], 10, 'running');
    await store.save('job', 'a', [9007199254740995n, 'k', Buffer.from('hi')], 20, 'running');
    await store.save('job', 'b', null, 0, 'done');
    await store.save('other', 'a', [1], 1, 'running');
    expect(await store.get('job', 'a', ['bigint', 'text', 'blob'])).toMatchObject({
      lastKey: [9007199254740995n, 'k', Buffer.from('hi')],
      rowsDone: 20,
      status: 'running',
    });
    expect(await store.get('job', 'a')).toMatchObject({ lastKey: ['9007199254740995', 'k', 'aGk='] });
    expect((await store.list('job')).map((c) => [c.table, c.status])).toEqual([
      ['a', 'running'],
      ['b', 'done'],
    ]);
    await store.clear('job', 'b');
    expect(await store.get('job', 'b')).toBeUndefined();
    await store.clear('job');
    expect(await store.list('job')).toEqual([]);
    expect(await store.get('other', 'a')).toMatchObject({ lastKey: [1] });
  });
});

describe('ProgressTracker', () => {
  it('computes rows/s over a moving window and an ETA when the total is known', () => {
    let t = 0;
    const tracker = new ProgressTracker('copy', 'users', { totalRows: 10_000, windowMs: 2000, now: () => t });
    tracker.start();
    t = 1000;
    expect(tracker.update(1000)).toEqual({
      phase: 'copy',
      table: 'users',
      rows: 1000,
      totalRows: 10_000,
      rowsPerSecond: 1000,
      etaSeconds: 9,
      done: false,
    });
    t = 2000;
    tracker.update(2000);
    t = 3000;
    tracker.update(2500);
    t = 4000;
    // Window of 2 s: from t=2000 (2000 rows) to t=4000 (3000 rows) = 500 rows/s.
    const e = tracker.update(3000);
    expect(e.rowsPerSecond).toBe(500);
    expect(e.etaSeconds).toBe(14);
    expect(tracker.update(10_000, true)).toMatchObject({ done: true, etaSeconds: 0 });
    const unknown = new ProgressTracker('export', 't', { now: () => t });
    unknown.start(100);
    t = 5000;
    const u = unknown.update(600);
    expect(u.rowsPerSecond).toBe(500);
    expect(u.etaSeconds).toBeUndefined();
    expect(u.totalRows).toBeUndefined();
  });
});
