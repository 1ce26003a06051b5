import type { BulkColumn, PortableType, PortableValue, TableSnapshot } from '@cmpkg/core';
import { DataTransferError, valueDecoder } from '@cmpkg/core';
import { type DatabaseHandle, placeholder, sqlParam } from './database-handle.js';

/**
 * What {@link readTable} reads.
 *
 * @example
 * const options: ReadTableOptions = {
 *   table: 'users', columns: [{ name: 'id', type: 'bigint' }, { name: 'email', type: 'text' }],
 *   key: ['id'], batchSize: 1000,
 * };
 */
export interface ReadTableOptions {
  table: string;
  /** Read through `dialect.readExpression` and decoded with `decodeValue` into `rows`. */
  columns: readonly BulkColumn[];
  /**
   * An ordered unique not-null key (the primary key, or a unique index of not-null columns; see
   * {@link chooseKey}). Key columns that are also in `columns` come back decoded in `lastKey`; others
   * come back as the driver gave them. Empty: the engine's row address (SQLite `rowid`, PostgreSQL
   * `ctid`); MySQL has none, so a table without a key cannot be read there.
   */
  key: readonly string[];
  /** Raw SQL expressions (mapping type `expression`), returned undecoded in `extras`. */
  extra?: readonly { alias: string; expression: string }[];
  /** A user filter (SQL), AND-ed; its placeholders come first (`$1…` on PostgreSQL, `?` elsewhere). */
  where?: string;
  params?: readonly unknown[];
  batchSize: number;
  /** Resume after this key (a `lastKey` of an earlier batch). */
  after?: readonly PortableValue[];
  signal?: AbortSignal;
}

/**
 * One page of rows: values in the order of `columns`, expression results in the order of `extra`,
 * and the key of the last row (what a checkpoint stores).
 *
 * @example
 * for await (const { rows, lastKey } of readTable(db, options)) console.log(rows.length, lastKey);
 */
export interface ReadBatch {
  rows: PortableValue[][];
  extras: unknown[][];
  lastKey: PortableValue[];
}

/** Alias prefixes of the generated SELECT list; positional names keep driver row objects flat. */
const COLUMN_ALIAS = 'c';
const KEY_ALIAS = 'k';
const EXTRA_ALIAS = 'x';

/**
 * Reads a table in pages ordered by a unique key, each page starting after the last key of the one
 * before (keyset paging, never OFFSET: every page costs the same, and a resumed read starts where
 * the last one stopped). Holds one page in memory at a time.
 *
 * A composite key is compared as `(a > ?) OR (a = ? AND b > ?) …` rather than as a row value:
 * MariaDB plans row-value comparisons as full scans.
 *
 * Throws `E_DATA` when a value does not fit its column's portable type (naming table, row key and
 * column), and when a MySQL table has no usable key.
 *
 * @example
 * for await (const batch of readTable(db, { table: 'users', columns, key: ['id'], batchSize: 1000 })) {
 *   for (const row of batch.rows) console.log(row[0]);
 * }
 */
export async function* readTable(db: DatabaseHandle, options: ReadTableOptions): AsyncGenerator<ReadBatch> {
  const { dialect, connection } = db;
  const engine = dialect.engine;
  const q = (name: string) => dialect.quoteIdentifier(name);
  const { table, columns, signal } = options;
  const batchSize = Math.max(1, Math.floor(options.batchSize));
  const extra = options.extra ?? [];

  const select: string[] = columns.map(
    (c, i) => `${dialect.readExpression(q(c.name), c.type)} AS ${COLUMN_ALIAS}${i}`,
  );
  // Where each key part comes from: a decoded column (index into `columns`) or its own raw alias.
  const keyTypes: (PortableType | undefined)[] = [];
  // Where each key part is in a row as read (rows come back as arrays in select-list order).
  const keyPosition: number[] = [];
  let keyExprs: string[];
  let keyCast = '';
  if (options.key.length > 0) {
    keyExprs = options.key.map((k) => q(k));
    options.key.forEach((k, j) => {
      const i = columns.findIndex((c) => c.name === k);
      keyTypes.push(columns[i]?.type);
      keyPosition.push(i >= 0 ? i : select.length);
      if (i < 0) select.push(`${q(k)} AS ${KEY_ALIAS}${j}`);
    });
  } else if (engine === 'sqlite') {
    keyExprs = ['rowid'];
    keyTypes.push(undefined);
    keyPosition.push(select.length);
    select.push(`rowid AS ${KEY_ALIAS}0`);
  } else if (engine === 'postgresql') {
    // The physical row address; stable while nothing updates the table (copies read a quiet source).
    keyExprs = ['ctid'];
    keyCast = '::tid';
    keyTypes.push(undefined);
    keyPosition.push(select.length);
    select.push(`ctid::text AS ${KEY_ALIAS}0`);
  } else {
    throw new DataTransferError(
      'E_DATA',
      `table ${table} has no primary key or unique not-null key; cmpkg pages by key on ${engine}, so add one (for example ALTER TABLE ${table} ADD PRIMARY KEY (...))`,
      { details: { table } },
    );
  }
  const extraStart = select.length;
  extra.forEach((e, i) => {
    select.push(`(${e.expression}) AS ${EXTRA_ALIAS}${i}`);
  });

  const userParams = options.params ?? [];
  const filter = options.where?.trim() ? `(${options.where})` : undefined;
  const base = `SELECT ${select.join(', ')} FROM ${q(table)}`;
  const order = ` ORDER BY ${keyExprs.join(', ')} LIMIT ${batchSize}`;
  // The keyset condition with placeholders numbered after the user's.
  const keyset = (): string => {
    let n = userParams.length;
    const ors: string[] = [];
    for (let j = 0; j < keyExprs.length; j++) {
      const ands: string[] = [];
      for (let i = 0; i < j; i++) ands.push(`${keyExprs[i]} = ${placeholder(engine, ++n)}${keyCast}`);
      ands.push(`${keyExprs[j]} > ${placeholder(engine, ++n)}${keyCast}`);
      ors.push(ands.length === 1 ? ands[0]! : `(${ands.join(' AND ')})`);
    }
    return ors.length === 1 ? ors[0]! : `(${ors.join(' OR ')})`;
  };
  const firstSql = `${base}${filter ? ` WHERE ${filter}` : ''}${order}`;
  const nextSql = `${base} WHERE ${filter ? `${filter} AND ` : ''}${keyset()}${order}`;
  const keyParams = (key: readonly PortableValue[]): unknown[] => {
    const params = [...userParams];
    for (let j = 0; j < key.length; j++) {
      for (let i = 0; i <= j; i++) params.push(sqlParam(engine, key[i] ?? null, keyTypes[i]));
    }
    return params;
  };

  const width = columns.length;
  const extraCount = extra.length;
  const decoders = columns.map((c) => valueDecoder(c.type));

  let after: readonly PortableValue[] | undefined = options.after;
  for (;;) {
    signal?.throwIfAborted();
    const { rows: raw } = after
      ? await connection.execute<unknown[]>(nextSql, keyParams(after), { rowMode: 'array' })
      : await connection.execute<unknown[]>(firstSql, userParams, { rowMode: 'array' });
    if (raw.length === 0) return;
    const rows: PortableValue[][] = new Array(raw.length);
    const extras: unknown[][] = new Array(raw.length);
    for (let r = 0; r < raw.length; r++) {
      const src = raw[r]!;
      // The driver's array is this row's own: decode in place rather than allocate another.
      const row = src as PortableValue[];
      for (let i = 0; i < width; i++) {
        try {
          row[i] = decoders[i]!(src[i]);
        } catch (err) {
          const key = keyPosition.map((p) => normalizeRaw(src[p]));
          throw new DataTransferError(
            'E_DATA',
            `table ${table}, row ${describeKey(options.key, key)}, column ${columns[i]!.name}: ${(err as Error).message}`,
            { cause: err, details: { table, column: columns[i]!.name, key } },
          );
        }
      }
      extras[r] = extraCount > 0 ? src.slice(extraStart, extraStart + extraCount) : EMPTY;
      const lastKey =
        r === raw.length - 1
          ? keyPosition.map((p) => (p < width ? row[p]! : normalizeRaw(src[p])))
          : undefined;
      if (src.length > width) src.length = width;
      rows[r] = row;
      if (lastKey) {
        yield { rows, extras, lastKey };
        if (raw.length < batchSize) return;
        after = lastKey;
      }
    }
  }
}

const EMPTY: unknown[] = [];

/** A driver value as a key parameter and checkpoint value (Dates as ISO text). */
function normalizeRaw(value: unknown): PortableValue {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (
    typeof value === 'string' ||
    typeof value === 'number' ||
    typeof value === 'bigint' ||
    typeof value === 'boolean' ||
    value instanceof Uint8Array
  ) {
    return value;
  }
  return String(value);
}

/**
 * A row key for messages: `id=5`, `(tenant=1, id=7)`, or `rowid 12` for tables paged by address.
 *
 * @example
 * describeKey(['id'], [5]); // 'id=5'
 */
export function describeKey(key: readonly string[], values: readonly PortableValue[]): string {
  const text = (v: PortableValue | undefined) =>
    v instanceof Uint8Array
      ? `0x${Buffer.from(v).toString('hex')}`
      : typeof v === 'string'
        ? JSON.stringify(v)
        : String(v);
  if (key.length === 0) return `at ${text(values[0])}`;
  const parts = key.map((k, i) => `${k}=${text(values[i])}`);
  return parts.length === 1 ? parts[0]! : `(${parts.join(', ')})`;
}

/**
 * The key {@link readTable} should page a table by: its primary key, else the shortest unique index
 * whose parts are all plain not-null columns; `undefined` when there is none (then pass `key: []`).
 *
 * @example
 * const snapshot = await dialect.introspect(conn, { tables: ['users'] });
 * const key = chooseKey(snapshot.tables[0]!) ?? [];
 */
export function chooseKey(table: TableSnapshot): string[] | undefined {
  if (table.primaryKey && table.primaryKey.columns.length > 0) return [...table.primaryKey.columns];
  const notNull = new Set(table.columns.filter((c) => !c.nullable).map((c) => c.name));
  let best: string[] | undefined;
  for (const index of table.indexes) {
    if (!index.unique || index.where !== undefined || index.parts.length === 0) continue;
    const cols: string[] = [];
    for (const part of index.parts) {
      if (part.column === undefined || part.expression !== undefined || !notNull.has(part.column)) break;
      cols.push(part.column);
    }
    if (cols.length !== index.parts.length) continue;
    if (best === undefined || cols.length < best.length) best = cols;
  }
  return best;
}
