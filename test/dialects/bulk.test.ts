import {
  atomically,
  type BulkColumn,
  type BulkWriter,
  type Connection,
  canonicalValueText,
  DataTransferError,
  decodeValue,
  PORTABLE_TYPE_KINDS,
  type PortableType,
  type PortableTypeKind,
  type PortableValue,
  parsePortableType,
  type TableDefinition,
} from '@cmpkg/core';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createTestDatabase, describeEngines, type TestDatabase, testDialect } from '../helpers/engines.js';

// Dialect.bulkWriter / readExpression / syncAutoIncrement on the real servers. Every value is read
// back through readExpression + decodeValue (the path copy, export and transforms use) and compared
// by canonicalValueText, which is what content checksums compare.

/** One column per portable type kind; the test fails if core gains a kind this list lacks. */
const TYPE_OF_KIND: Record<PortableTypeKind, PortableType> = {
  uuid: 'uuid',
  text: 'text',
  varchar: 'varchar(200)',
  integer: 'integer',
  bigint: 'bigint',
  smallint: 'smallint',
  boolean: 'boolean',
  real: 'real',
  double: 'double',
  decimal: 'decimal(12,2)',
  date: 'date',
  timestamp: 'timestamp',
  timestamptz: 'timestamptz',
  json: 'json',
  blob: 'blob',
  vector: 'vector(3)',
};
const VALUE_COLUMNS: BulkColumn[] = PORTABLE_TYPE_KINDS.map((kind) => ({
  name: `c_${kind}`,
  type: TYPE_OF_KIND[kind],
}));
const ALL_COLUMNS: BulkColumn[] = [{ name: 'id', type: 'integer' }, ...VALUE_COLUMNS];

const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);
const MEGABYTE_TEXT = 'ab\\c\td\ne€'.repeat(110_000); // > 1 MB of UTF-8, with every COPY escape in it
const TRICKY_TEXT =
  'emoji 😀 RTL שלום عربي CJK 漢字テスト ctrl\u0001\u001f tab\t nl\n cr\r backslash\\ quote\' dq"';

type Row = Record<PortableTypeKind, PortableValue>;

const EDGE_ROWS: Array<{ id: number; values: Row }> = [
  {
    id: 1,
    values: Object.fromEntries(PORTABLE_TYPE_KINDS.map((k) => [k, null])) as Row,
  },
  {
    id: 2,
    values: {
      uuid: 'a3bb189e-8bf9-3888-9912-ace4e6543002',
      text: TRICKY_TEXT,
      varchar: 'Grüße, 世界 \\ \t',
      integer: -2147483648,
      bigint: 2n ** 53n + 1n,
      smallint: -32768,
      boolean: true,
      real: 1.5,
      double: 0.1 + 0.2,
      decimal: '12345678.90',
      date: '2024-02-29',
      timestamp: '2024-05-01T10:20:30.123456',
      timestamptz: '2024-05-01T10:20:30.654321Z',
      json: JSON.stringify({ a: { b: [1, 2, { c: 'ü😀' }] }, s: 'x\ny\\z', n: null, t: true }),
      blob: ALL_BYTES,
      vector: '[1,2.5,-3]',
    },
  },
  {
    id: 3,
    values: {
      uuid: '00000000-0000-0000-0000-000000000000',
      text: '',
      varchar: '',
      integer: 2147483647,
      bigint: -(2n ** 63n),
      smallint: 32767,
      boolean: false,
      real: 0.1,
      double: -1.5e300,
      decimal: '-0.01',
      date: '1999-12-31',
      timestamp: '1999-12-31T23:59:59.999999',
      timestamptz: '2038-01-19T03:14:07.000001Z',
      json: 'null',
      blob: new Uint8Array(0),
      vector: '[0,0.1,1e-7]',
    },
  },
  {
    id: 4,
    values: {
      uuid: 'FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF',
      text: MEGABYTE_TEXT,
      varchar: 'x'.repeat(200),
      integer: 0,
      bigint: 9007199254740991,
      smallint: 0,
      boolean: true,
      real: -0.25,
      double: 1e-300,
      decimal: '0.00',
      date: '2000-01-01',
      timestamp: '2024-05-01T00:00:00',
      timestamptz: '1970-01-02T00:00:00Z',
      json: '[]',
      blob: Buffer.from('hello'),
      vector: '[-1,-2,-3]',
    },
  },
];

function everyTypeTable(name: string): TableDefinition {
  return {
    name,
    columns: [
      { name: 'id', type: 'integer', nullable: false },
      ...VALUE_COLUMNS.map((c) => ({ name: c.name, type: c.type, nullable: true })),
    ],
    primaryKey: { columns: ['id'] },
    indexes: [],
    foreignKeys: [],
    checks: [],
  };
}

/** A small table: `id` primary key, `name` NOT NULL, optional `n`. */
function smallTable(name: string, autoIncrement = false): TableDefinition {
  return {
    name,
    columns: [
      { name: 'id', type: 'integer', nullable: false, ...(autoIncrement ? { autoIncrement: true } : {}) },
      { name: 'name', type: 'text', nullable: false },
      { name: 'n', type: 'integer', nullable: true },
    ],
    primaryKey: { columns: ['id'] },
    indexes: [],
    foreignKeys: [],
    checks: [],
  };
}

const SMALL: BulkColumn[] = [
  { name: 'id', type: 'integer' },
  { name: 'name', type: 'text' },
  { name: 'n', type: 'integer' },
];

async function failure(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

describeEngines('bulk writes', (engine) => {
  const dialect = testDialect(engine);
  let db: TestDatabase;
  let conn: Connection;
  const q = (name: string) => dialect.quoteIdentifier(name);

  beforeEach(async () => {
    db = await createTestDatabase(engine);
    conn = await dialect.connect(db.url);
  });

  afterEach(async () => {
    await conn.close();
    await db.drop();
  });

  async function create(table: TableDefinition): Promise<void> {
    for (const s of dialect.renderDdl({ kind: 'createTable', table })) await conn.execute(s);
  }

  /**
   * Creates `table` (a {@link smallTable}) and runs `body` with a bulk writer on it inside the
   * caller's transaction: BEGIN, then COMMIT, or ROLLBACK and rethrow when `body` fails; the writer
   * is closed either way.
   */
  async function inCallerTransaction(
    table: string,
    body: (writer: BulkWriter) => Promise<void>,
  ): Promise<void> {
    await create(smallTable(table));
    const writer = await dialect.bulkWriter(conn, table, SMALL);
    await conn.execute('BEGIN');
    try {
      await body(writer);
      await conn.execute('COMMIT');
    } catch (err) {
      await conn.execute('ROLLBACK');
      throw err;
    } finally {
      await writer.close();
    }
  }

  /** The table's rows through readExpression + decodeValue, ordered by id. */
  async function readBack(table: string, columns: readonly BulkColumn[]): Promise<PortableValue[][]> {
    const list = columns.map((c, i) => `${dialect.readExpression(q(c.name), c.type)} AS ${q(`v${i}`)}`);
    const { rows } = await conn.execute(`SELECT ${list.join(', ')} FROM ${q(table)} ORDER BY ${q('id')}`);
    return rows.map((r) => columns.map((c, i) => decodeValue(c.type, r[`v${i}`])));
  }

  it('round-trips an edge value of every portable type exactly (canonical text)', async () => {
    await create(everyTypeTable('every_type'));
    const writer = await dialect.bulkWriter(conn, 'every_type', ALL_COLUMNS);
    try {
      const rows = EDGE_ROWS.map((r) => [r.id, ...PORTABLE_TYPE_KINDS.map((k) => r.values[k])]);
      await expect(writer.write(rows)).resolves.toBe(EDGE_ROWS.length);
    } finally {
      await writer.close();
    }
    const back = await readBack('every_type', ALL_COLUMNS);
    expect(back.map((r) => r[0])).toEqual(EDGE_ROWS.map((r) => r.id));
    const mismatches: string[] = [];
    for (const [i, row] of EDGE_ROWS.entries()) {
      for (const [j, kind] of PORTABLE_TYPE_KINDS.entries()) {
        const type = TYPE_OF_KIND[kind];
        const want = canonicalValueText(type, row.values[kind]);
        const got = canonicalValueText(type, back[i]![j + 1]!);
        if (engine === 'sqlite' && kind === 'decimal') {
          // Engine limitation: SQLite's NUMERIC affinity stores '12345678.90' as an 8-byte float and
          // better-sqlite3 reads it back as that float, whose decimal expansion decodeValue keeps
          // (12345678.90000000037...). Equal as numbers, not as canonical text.
          if (got !== want && Number(got) !== Number(want))
            mismatches.push(`row ${row.id} ${kind}: wrote ${want}, read ${got}`);
          continue;
        }
        if (got !== want)
          mismatches.push(`row ${row.id} ${kind}: wrote ${want.slice(0, 80)}, read ${got.slice(0, 80)}`);
      }
    }
    expect(mismatches).toEqual([]);
    // Beyond 2^53 the value must be a bigint, not a rounded number.
    expect(back[1]![1 + PORTABLE_TYPE_KINDS.indexOf('bigint')]).toBe(2n ** 53n + 1n);
    expect(back[2]![1 + PORTABLE_TYPE_KINDS.indexOf('bigint')]).toBe(-(2n ** 63n));
    expect(back[3]![1 + PORTABLE_TYPE_KINDS.indexOf('text')]).toBe(MEGABYTE_TEXT);
    expect(Buffer.from(back[1]![1 + PORTABLE_TYPE_KINDS.indexOf('blob')] as Uint8Array)).toEqual(
      Buffer.from(ALL_BYTES),
    );
    // JSON null is a value, not SQL NULL.
    expect(back[2]![1 + PORTABLE_TYPE_KINDS.indexOf('json')]).not.toBeNull();
    expect(back[0]!.slice(1).every((v) => v === null)).toBe(true);
  });

  it('merge updates existing rows, inserts new ones, and keeps the last row of a key given twice', async () => {
    await create(smallTable('m'));
    const insert = await dialect.bulkWriter(conn, 'm', SMALL);
    await insert.write([
      [1, 'one', 1],
      [2, 'two', 2],
    ]);
    await insert.close();
    const merge = await dialect.bulkWriter(conn, 'm', SMALL, { mode: 'merge', key: ['id'] });
    try {
      await merge.write([
        [2, 'TWO', null],
        [3, 'three', 3],
        [3, 'THREE', 33],
      ]);
      // A second write through the same writer (PostgreSQL reuses its temp table).
      await merge.write([[1, 'ONE', 11]]);
    } finally {
      await merge.close();
    }
    expect(await db.query(`SELECT id, name, n FROM ${q('m')} ORDER BY id`)).toEqual([
      { id: 1, name: 'ONE', n: 11 },
      { id: 2, name: 'TWO', n: null },
      { id: 3, name: 'THREE', n: 33 },
    ]);
    if (engine === 'postgresql') {
      // close() dropped the writer's temp table.
      const { rows } = await conn.execute(
        "SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'cmpkg_bulk_%'",
      );
      expect(rows[0]).toEqual({ n: 0 });
    }
  });

  it('refuses merge without a key', async () => {
    await create(smallTable('nk'));
    await expect(dialect.bulkWriter(conn, 'nk', SMALL, { mode: 'merge' })).rejects.toThrow(
      /a key is required/,
    );
  });

  it("a failed write leaves none of its rows and the caller's transaction usable", async () => {
    await inCallerTransaction('t', async (writer) => {
      await writer.write([
        [1, 'a', null],
        [2, 'b', null],
      ]);
      const duplicate = await failure(() =>
        writer.write([
          [3, 'c', null],
          [1, 'dup', null],
        ]),
      );
      expect(dialect.classifyError(duplicate)).toBe('constraint');
      if (engine === 'postgresql') {
        // PostgreSQL names the failing COPY line: the row's place in the batch.
        expect((duplicate as { where?: string }).where).toMatch(/COPY t, line 2/);
      }
      const notNull = await failure(() =>
        writer.write([
          [5, 'e', null],
          [6, null, null],
        ]),
      );
      expect(dialect.classifyError(notNull)).toBe('constraint');
      await writer.write([[4, 'd', null]]);
    });
    expect(await db.query(`SELECT id FROM ${q('t')} ORDER BY id`)).toEqual([{ id: 1 }, { id: 2 }, { id: 4 }]);
  });

  it('a failure at the start of a large batch (server errors while data is still streaming)', async () => {
    await inCallerTransaction('early', async (writer) => {
      await writer.write([[1, 'first', null]]);
      const rows: PortableValue[][] = Array.from({ length: 30_000 }, (_, i) => [
        i + 2,
        `row ${i} ${'x'.repeat(100)}`,
        i,
      ]);
      rows[1] = [1, 'duplicate of the first', null];
      const err = await failure(() => writer.write(rows));
      expect(dialect.classifyError(err)).toBe('constraint');
      await writer.write([[100_000, 'after', null]]);
    });
    expect(await db.query(`SELECT id FROM ${q('early')} ORDER BY id`)).toEqual([{ id: 1 }, { id: 100_000 }]);
  });

  it('without a caller transaction, each write is atomic on its own', async () => {
    await create(smallTable('solo'));
    const writer = await dialect.bulkWriter(conn, 'solo', SMALL);
    try {
      await writer.write([[1, 'a', null]]);
      await failure(() =>
        writer.write([
          [2, 'b', null],
          [1, 'dup', null],
        ]),
      );
      await writer.write([[3, 'c', null]]);
    } finally {
      await writer.close();
    }
    expect(await db.query(`SELECT id FROM ${q('solo')} ORDER BY id`)).toEqual([{ id: 1 }, { id: 3 }]);
    // Nothing was left open: a rollback now must not undo the committed writes.
    await conn.execute('ROLLBACK').catch(() => undefined);
    expect(await db.count('solo')).toBe(2);
  });

  it('connection.inTransaction follows BEGIN, COMMIT, ROLLBACK and a savepoint', async () => {
    await create(smallTable('tx'));
    const states: boolean[] = [conn.inTransaction];
    await conn.execute('BEGIN');
    states.push(conn.inTransaction);
    await conn.execute(`INSERT INTO ${q('tx')} (id, name) VALUES (1, 'a')`);
    states.push(conn.inTransaction);
    await conn.execute('COMMIT');
    states.push(conn.inTransaction);
    await conn.execute('BEGIN');
    await conn.execute('ROLLBACK');
    states.push(conn.inTransaction);
    expect(states).toEqual([false, true, true, false, false]);
  });

  it('atomically: its own transaction outside one, a savepoint inside one; a failure leaves nothing', async () => {
    await create(smallTable('atom'));
    const insert = (id: number) => conn.execute(`INSERT INTO ${q('atom')} (id, name) VALUES (${id}, 'x')`);
    await atomically(conn, 'sp_test', () => insert(1));
    expect(conn.inTransaction).toBe(false);
    await expect(
      atomically(conn, 'sp_test', async () => {
        await insert(2);
        await insert(1);
      }),
    ).rejects.toThrow();
    expect(conn.inTransaction).toBe(false);
    await conn.execute('BEGIN');
    await expect(
      atomically(conn, 'sp_test', async () => {
        await insert(3);
        await insert(1);
      }),
    ).rejects.toThrow();
    // The caller's transaction is still open and usable (PostgreSQL would refuse statements otherwise).
    expect(conn.inTransaction).toBe(true);
    await atomically(conn, 'sp_test', () => insert(4));
    await conn.execute('COMMIT');
    expect(await db.query(`SELECT id FROM ${q('atom')} ORDER BY id`)).toEqual([{ id: 1 }, { id: 4 }]);
  });

  it('writes 300 rows of 200 KB in one batch (MySQL splits it under max_allowed_packet)', async () => {
    await create(smallTable('big'));
    const big = (i: number) => `${i}:`.padEnd(200_000, String.fromCharCode(97 + (i % 26)));
    const rows = Array.from({ length: 300 }, (_, i) => [i + 1, big(i), i]);
    const inserts = async () =>
      Number(
        (await conn.execute<{ Value: unknown }>("SHOW SESSION STATUS LIKE 'Com_insert'")).rows[0]?.Value,
      );
    const before = engine === 'mysql' ? await inserts() : 0;
    const writer = await dialect.bulkWriter(conn, 'big', SMALL);
    try {
      await expect(writer.write(rows)).resolves.toBe(300);
    } finally {
      await writer.close();
    }
    if (engine === 'mysql') expect((await inserts()) - before).toBeGreaterThan(1);
    const stats = await db.query(
      `SELECT count(*) AS n, sum(length(name)) AS len, sum(n) AS total FROM ${q('big')}`,
    );
    expect(Number(stats[0]?.n)).toBe(300);
    expect(Number(stats[0]?.len)).toBe(300 * 200_000);
    expect(Number(stats[0]?.total)).toBe((299 * 300) / 2);
    const sample = await db.query(`SELECT name FROM ${q('big')} WHERE id = ?`, [123]);
    expect(sample[0]?.name).toBe(big(122));
  });

  it('syncAutoIncrement: after explicit ids the next generated id is max + 1', async () => {
    await create(smallTable('auto', true));
    const writer = await dialect.bulkWriter(conn, 'auto', SMALL);
    try {
      await writer.write([
        [5, 'five', null],
        [41, 'forty-one', null],
        [7, 'seven', null],
      ]);
    } finally {
      await writer.close();
    }
    await dialect.syncAutoIncrement(conn, 'auto', 'id');
    await conn.execute(`INSERT INTO ${q('auto')} (${q('name')}) VALUES ('generated')`);
    const rows = await db.query(`SELECT id FROM ${q('auto')} WHERE name = 'generated'`);
    expect(rows).toEqual([{ id: 42 }]);
    // A column without a sequence: nothing to do, and no error.
    await expect(dialect.syncAutoIncrement(conn, 'auto', 'n')).resolves.toBeUndefined();
  });

  it('syncAutoIncrement on an empty table starts at 1', async () => {
    await create(smallTable('empty_auto', true));
    await dialect.syncAutoIncrement(conn, 'empty_auto', 'id');
    await conn.execute(`INSERT INTO ${q('empty_auto')} (${q('name')}) VALUES ('first')`);
    expect(await db.query(`SELECT id FROM ${q('empty_auto')}`)).toEqual([{ id: 1 }]);
  });

  if (engine === 'mysql') {
    it('a row larger than max_allowed_packet fails with E_DATA naming the table, writing nothing', async () => {
      await create(smallTable('huge'));
      const { rows } = await conn.execute<{ p: unknown }>('SELECT @@max_allowed_packet AS p');
      const packet = Number(rows[0]?.p);
      const writer = await dialect.bulkWriter(conn, 'huge', SMALL);
      try {
        const err = await failure(() =>
          writer.write([
            [1, 'small', null],
            [2, 'x'.repeat(packet), null],
          ]),
        );
        expect(err).toBeInstanceOf(DataTransferError);
        expect((err as DataTransferError).code).toBe('E_DATA');
        expect((err as Error).message).toMatch(/huge: row 2 of the batch .*max_allowed_packet/);
      } finally {
        await writer.close();
      }
      expect(await db.count('huge')).toBe(0);
    });

    it('NaN cannot be stored: E_DATA naming table and column', async () => {
      await create(everyTypeTable('nan'));
      const writer = await dialect.bulkWriter(conn, 'nan', [
        { name: 'id', type: 'integer' },
        { name: 'c_double', type: 'double' },
      ]);
      try {
        const err = await failure(() => writer.write([[1, Number.NaN]]));
        expect((err as DataTransferError).code).toBe('E_DATA');
        expect((err as Error).message).toMatch(/nan\.c_double, row 1/);
      } finally {
        await writer.close();
      }
      expect(await db.count('nan')).toBe(0);
    });
  }

  if (engine === 'postgresql') {
    it('writes NaN and infinities into float columns', async () => {
      await create(everyTypeTable('floats'));
      const columns: BulkColumn[] = [
        { name: 'id', type: 'integer' },
        { name: 'c_double', type: 'double' },
        { name: 'c_real', type: 'real' },
      ];
      const writer = await dialect.bulkWriter(conn, 'floats', columns);
      try {
        await writer.write([
          [1, Number.NaN, Number.POSITIVE_INFINITY],
          [2, Number.NEGATIVE_INFINITY, -0],
        ]);
      } finally {
        await writer.close();
      }
      const back = await readBack('floats', columns);
      expect(back).toEqual([
        [1, Number.NaN, Number.POSITIVE_INFINITY],
        [2, Number.NEGATIVE_INFINITY, -0],
      ]);
    });
  }

  it('every portable type kind is covered by this suite', () => {
    for (const kind of PORTABLE_TYPE_KINDS) expect(parsePortableType(TYPE_OF_KIND[kind]).kind).toBe(kind);
  });
});
