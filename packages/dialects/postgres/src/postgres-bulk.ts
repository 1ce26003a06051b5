import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type {
  BulkColumn,
  BulkWriter,
  BulkWriterOptions,
  Connection,
  PortableType,
  PortableValue,
} from '@cmpkg/core';
import { atomically, portableTypeKind, UsageError, ValueDecodeError } from '@cmpkg/core';
import pgCopy from 'pg-copy-streams';
import { type PostgresVectorType, quotePostgresIdentifier as q } from './postgres-adapter.js';
import { asPostgresConnection, type PostgresConnection } from './postgres-connection.js';

/** COPY data is sent in pieces of about this many characters: memory stays flat for any batch size. */
const CHUNK_CHARS = 64 * 1024;

const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const NEEDS_ESCAPE = /[\\\t\n\r]/;
const ESCAPABLE = /[\\\t\n\r]/g;

/** A float as PostgreSQL's input functions spell it (`NaN`, `Infinity`, `-0` keep their meaning). */
function numberText(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return 'Infinity';
  if (n === Number.NEGATIVE_INFINITY) return '-Infinity';
  return Object.is(n, -0) ? '-0' : String(n);
}

function escapeText(text: string): string {
  return NEEDS_ESCAPE.test(text) ? text.replace(ESCAPABLE, (c) => ESCAPES[c]!) : text;
}

/** A portable vector (JSON array text) as the array literal a `REAL[]` column takes: `{1,2,3}`. */
function vectorArrayLiteral(type: PortableType, json: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new ValueDecodeError(type, json, `invalid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(parsed) || parsed.some((n) => typeof n !== 'number')) {
    throw new ValueDecodeError(type, json, 'expected a JSON array of numbers');
  }
  return `{${(parsed as number[]).map(numberText).join(',')}}`;
}

/** The COPY text of a value that is not a string (and not null). */
function scalarText(value: boolean | number | bigint | Uint8Array): string {
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (typeof value === 'number') return numberText(value);
  if (typeof value === 'bigint') return value.toString();
  // bytea's hex input `\x...`, whose backslash COPY's text format needs doubled.
  return `\\\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
}

/** Turns one column's values into COPY text; chosen once per column, not per value. */
type CopyEncoder = (value: PortableValue) => string;

/**
 * The encoder of a column of `type`: the type's kind is looked up once here, so the per-value
 * work is a `typeof` and the text itself.
 */
function copyEncoder(type: PortableType, vectorType: PostgresVectorType): CopyEncoder {
  if (vectorType === 'array' && portableTypeKind(type) === 'vector') {
    return (value) =>
      value === null
        ? '\\N'
        : typeof value === 'string'
          ? vectorArrayLiteral(type, value)
          : scalarText(value);
  }
  const other: CopyEncoder = (value) =>
    typeof value === 'string' ? escapeText(value) : value === null ? '\\N' : scalarText(value);
  switch (portableTypeKind(type)) {
    case 'smallint':
    case 'integer':
    case 'bigint':
    case 'real':
    case 'double':
      return (value) => (typeof value === 'number' ? numberText(value) : other(value));
    case 'boolean':
      return (value) => (value === true ? 't' : value === false ? 'f' : other(value));
    default:
      return other;
  }
}

/**
 * One value in PostgreSQL's COPY text format: `\N` for NULL, `t`/`f`, bytea as `\\x<hex>`,
 * backslash, tab, newline and carriage return escaped in text. `vector(n)` values (JSON array text)
 * become `{1,2,3}` for the default `REAL[]` storage; pgvector takes the JSON spelling as it is.
 *
 * @internal exported for unit tests
 * @example
 * copyTextValue('text', 'a\tb'); // 'a\\tb'
 * copyTextValue('blob', Buffer.from([1, 255])); // '\\\\x01ff'
 */
export function copyTextValue(
  type: PortableType,
  value: PortableValue,
  vectorType: PostgresVectorType = 'array',
): string {
  return copyEncoder(type, vectorType)(value);
}

/** The rows of a batch as COPY text, in chunks of about {@link CHUNK_CHARS}. */
function* copyChunks(
  rows: readonly (readonly PortableValue[])[],
  encoders: readonly CopyEncoder[],
): Generator<string> {
  const last = encoders.length - 1;
  let chunk = '';
  for (const row of rows) {
    for (let i = 0; i < last; i++) chunk += `${encoders[i]!(row[i] ?? null)}\t`;
    chunk += `${encoders[last]!(row[last] ?? null)}\n`;
    if (chunk.length >= CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk !== '') yield chunk;
}

/**
 * Streams `rows` into `COPY target (columns) FROM STDIN` on the connection's client, with the
 * stream's back-pressure. A COPY that fails rejects with pg's own error (SQLSTATE in `code`, the row
 * in `where`: `COPY t, line N`).
 */
async function copyRows(
  conn: PostgresConnection,
  target: string,
  columns: readonly BulkColumn[],
  rows: readonly (readonly PortableValue[])[],
  encoders: readonly CopyEncoder[],
): Promise<number> {
  const sql = `COPY ${target} (${columns.map((c) => q(c.name)).join(', ')}) FROM STDIN`;
  const stream = conn.client.query(pgCopy.from(sql));
  await pipeline(Readable.from(copyChunks(rows, encoders)), stream);
  return stream.rowCount;
}

let writers = 0;

/**
 * Options of {@link createPostgresBulkWriter}.
 *
 * @example
 * const options: PostgresBulkWriterOptions = { mode: 'merge', key: ['id'], vectorType: 'array' };
 */
export interface PostgresBulkWriterOptions extends BulkWriterOptions {
  /** How the table stores `vector(n)` columns (the dialect's `vectorType`); default `'array'`. */
  vectorType?: PostgresVectorType;
}

/**
 * PostgreSQL's bulk writer.
 *
 * - `insert`: `COPY t (…) FROM STDIN` in text format, streamed in ~64 KB chunks. COPY writes identity
 *   columns as given, also `GENERATED ALWAYS` ones.
 * - `merge`: COPY into a session temp table (`CREATE TEMP TABLE … AS SELECT … WITH NO DATA`: the
 *   columns' types, no constraints, defaults or identity), then `INSERT INTO t … OVERRIDING SYSTEM
 *   VALUE SELECT DISTINCT ON (key) … ON CONFLICT (key) DO UPDATE`; a key given twice in one batch
 *   keeps its last row. The temp table is created by the first write (again after a rollback undid
 *   it) and dropped by `close()`.
 *
 * Each `write` runs in a savepoint when the caller holds a transaction, else in its own transaction:
 * a failed write leaves none of its rows, and the caller's transaction stays usable.
 *
 * @example
 * const writer = await createPostgresBulkWriter(conn, 'entries', [{ name: 'id', type: 'bigint' }]);
 * try { await writer.write([[1], [2]]); } finally { await writer.close(); }
 */
export async function createPostgresBulkWriter(
  connection: Connection,
  table: string,
  columns: readonly BulkColumn[],
  options: PostgresBulkWriterOptions = {},
): Promise<BulkWriter> {
  const conn = asPostgresConnection(connection);
  if (columns.length === 0) throw new UsageError(`bulk write into ${table}: no columns`);
  const vectorType = options.vectorType ?? 'array';
  const encoders = columns.map((c) => copyEncoder(c.type, vectorType));
  const id = ++writers;
  const savepoint = `cmpkg_bulk_${id}`;
  const merge = options.mode === 'merge';
  const key = options.key ?? [];
  if (merge) {
    if (key.length === 0) throw new UsageError(`bulk merge into ${table}: a key is required`);
    const unknown = key.filter((k) => !columns.some((c) => c.name === k));
    if (unknown.length > 0) {
      throw new UsageError(`bulk merge into ${table}: key column ${unknown.join(', ')} is not written`);
    }
  }
  const names = columns.map((c) => q(c.name)).join(', ');
  const temp = `cmpkg_bulk_${process.pid}_${id}`;
  const tempRef = `pg_temp.${q(temp)}`;
  const keyList = key.map(q).join(', ');
  const rest = columns.filter((c) => !key.includes(c.name));
  const mergeSql =
    `INSERT INTO ${q(table)} (${names}) OVERRIDING SYSTEM VALUE ` +
    // ctid order is the COPY's row order in the freshly truncated temp table: the last row of a key wins.
    `SELECT DISTINCT ON (${keyList}) ${names} FROM ${tempRef} ORDER BY ${keyList}, ctid DESC ` +
    `ON CONFLICT (${keyList}) DO ${
      rest.length === 0
        ? 'NOTHING'
        : `UPDATE SET ${rest.map((c) => `${q(c.name)} = EXCLUDED.${q(c.name)}`).join(', ')}`
    }`;
  let closed = false;
  let tempCreated = false;
  return {
    async write(rows) {
      if (closed) throw new UsageError(`bulk write into ${table}: the writer is closed`);
      if (rows.length === 0) return 0;
      return atomically(conn, savepoint, async () => {
        if (!merge) {
          await copyRows(conn, q(table), columns, rows, encoders);
          return rows.length;
        }
        // IF NOT EXISTS: a rollback of the caller's transaction may have undone an earlier creation.
        await conn.execute(
          `CREATE TEMP TABLE IF NOT EXISTS ${q(temp)} AS SELECT ${names} FROM ${q(table)} WITH NO DATA`,
        );
        tempCreated = true;
        await conn.execute(`TRUNCATE ${tempRef}`);
        await copyRows(conn, tempRef, columns, rows, encoders);
        await conn.execute(mergeSql);
        return rows.length;
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      // In a failed transaction the DROP could not run; the empty temp table then ends with the session.
      if (!tempCreated || !conn.isOpen || conn.client.getTransactionStatus() === 'E') return;
      await conn.execute(`DROP TABLE IF EXISTS ${tempRef}`).catch(() => undefined);
    },
  };
}

/**
 * The SELECT-list expression that reads a PostgreSQL column so `decodeValue` gets the exact value:
 * times via `to_char` with microseconds (timestamptz in UTC), dates as text (pg would build a local
 * `Date`), JSON as text, `REAL[]` vectors as a JSON array. Other types are read as they are (`numeric`
 * is already a string, `bigint` a number or BigInt).
 *
 * @example
 * postgresReadExpression('"created_at"', 'timestamptz');
 * // `to_char("created_at" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
 */
export function postgresReadExpression(
  column: string,
  type: PortableType,
  vectorType: PostgresVectorType = 'array',
): string {
  switch (portableTypeKind(type)) {
    case 'timestamptz':
      return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
    case 'timestamp':
      return `to_char(${column}, 'YYYY-MM-DD"T"HH24:MI:SS.US')`;
    case 'date':
      return `to_char(${column}, 'YYYY-MM-DD')`;
    case 'json':
      return `${column}::text`;
    case 'vector':
      // pgvector's text form is already `[1,2,3]`.
      return vectorType === 'pgvector' ? `${column}::text` : `array_to_json(${column})::text`;
    default:
      return column;
  }
}

/**
 * Moves the sequence behind `table.column` (identity or serial) so its next value is the column's
 * largest + 1 (its start value for an empty table). Does nothing for a column without a sequence.
 *
 * @example
 * await syncPostgresAutoIncrement(conn, 'entries', 'id');
 */
export async function syncPostgresAutoIncrement(
  connection: Connection,
  table: string,
  column: string,
): Promise<void> {
  const conn = asPostgresConnection(connection);
  // pg_get_serial_sequence parses its first argument as an identifier (so it is quoted) and takes
  // the second literally.
  const { rows } = await conn.execute<{ seq: string | null }>(
    'SELECT pg_get_serial_sequence($1, $2) AS seq',
    [q(table), column],
  );
  const seq = rows[0]?.seq;
  if (!seq) return;
  await conn.execute(
    `SELECT setval(x.seq, GREATEST(COALESCE(x.m, x.lo), x.lo), x.m IS NOT NULL AND x.m >= x.lo)
       FROM (SELECT $1::regclass AS seq, (SELECT max(${q(column)}) FROM ${q(table)})::bigint AS m,
                    (SELECT seqmin FROM pg_sequence WHERE seqrelid = $1::regclass) AS lo) x`,
    [seq],
  );
}
