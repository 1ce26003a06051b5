import type {
  BulkColumn,
  BulkWriter,
  BulkWriterOptions,
  Connection,
  PortableType,
  PortableValue,
} from '@cmpkg/core';
import { atomically, DataTransferError, portableTypeKind, sqlDateTime, UsageError } from '@cmpkg/core';
import { quoteMysqlIdentifier as q } from './mysql-adapter.js';
import { asMysqlConnection } from './mysql-connection.js';
import { mysqlStringLiteral } from './mysql-ddl.js';

/**
 * Statements stop growing at this size even when `max_allowed_packet` would allow more: past a few
 * MB a bigger statement saves no round trips worth having and only costs memory on both sides.
 */
const MAX_STATEMENT_BYTES = 16 * 1024 * 1024;
/** Room left in the packet for the protocol header and what the server adds to the statement. */
const PACKET_MARGIN_BYTES = 4096;

/**
 * A value as a MySQL literal: `NULL`, `1`/`0` for booleans, digits for numbers and 64-bit integers,
 * `X'…'` for bytes, and quoted strings otherwise, dates and times in MySQL's spelling (`sqlDateTime`:
 * no `T`, no `Z`; the session's time zone is UTC). `noBackslashEscapes` follows the session's
 * `sql_mode`. Throws `DataTransferError` (`E_DATA`) for NaN and infinities, which MySQL cannot store.
 *
 * @internal exported for unit tests
 * @example
 * mysqlLiteral('timestamptz', '2024-05-01T10:00:00.5Z'); // "'2024-05-01 10:00:00.5'"
 * mysqlLiteral('blob', Buffer.from([1, 255])); // "X'01ff'"
 */
export function mysqlLiteral(type: PortableType, value: PortableValue, noBackslashEscapes = false): string {
  if (value === null) return 'NULL';
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw new DataTransferError('E_DATA', `${value} cannot be stored in a MySQL ${type} column`);
    }
    return String(value);
  }
  if (value instanceof Uint8Array) {
    return `X'${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}'`;
  }
  const kind = portableTypeKind(type);
  const text = kind === 'date' || kind === 'timestamp' || kind === 'timestamptz' ? sqlDateTime(value) : value;
  return noBackslashEscapes ? `'${text.replace(/'/g, "''")}'` : mysqlStringLiteral(text);
}

let writers = 0;

/**
 * The MySQL / MariaDB bulk writer: multi-row `INSERT INTO t (…) VALUES (…), (…)` with the values
 * inlined as literals, each statement kept under the server's `max_allowed_packet` (read once per
 * writer, minus a margin, and at most 16 MB). `merge` adds `ON DUPLICATE KEY UPDATE c = VALUES(c)`
 * for every non-key column, which matches on ANY unique key of the table, not only `key`. A row that
 * alone does not fit a packet fails the write with `DataTransferError` (`E_DATA`) naming the table.
 *
 * Each `write` runs in a savepoint when the caller holds a transaction, else in its own transaction:
 * a failed write leaves none of its rows, and the caller's transaction stays usable.
 *
 * @example
 * const writer = await createMysqlBulkWriter(conn, 'entries', [{ name: 'id', type: 'bigint' }]);
 * try { await writer.write([[1], [2]]); } finally { await writer.close(); }
 */
export async function createMysqlBulkWriter(
  connection: Connection,
  table: string,
  columns: readonly BulkColumn[],
  options: BulkWriterOptions = {},
): Promise<BulkWriter> {
  const conn = asMysqlConnection(connection);
  if (columns.length === 0) throw new UsageError(`bulk write into ${table}: no columns`);
  let suffix = '';
  if (options.mode === 'merge') {
    const key = options.key ?? [];
    if (key.length === 0) throw new UsageError(`bulk merge into ${table}: a key is required`);
    const unknown = key.filter((k) => !columns.some((c) => c.name === k));
    if (unknown.length > 0) {
      throw new UsageError(`bulk merge into ${table}: key column ${unknown.join(', ')} is not written`);
    }
    const rest = columns.filter((c) => !key.includes(c.name));
    // With only key columns there is nothing to update: a no-op assignment keeps the row as it is.
    const updates = (rest.length > 0 ? rest : columns.slice(0, 1)).map((c) =>
      rest.length > 0 ? `${q(c.name)} = VALUES(${q(c.name)})` : `${q(c.name)} = ${q(c.name)}`,
    );
    suffix = ` ON DUPLICATE KEY UPDATE ${updates.join(', ')}`;
  }
  const prefix = `INSERT INTO ${q(table)} (${columns.map((c) => q(c.name)).join(', ')}) VALUES `;
  // The session's sql_mode now, not the one seen at connect: a migration may have changed it since,
  // and literals escaped for the wrong mode store backslashes doubled (or worse).
  const { rows } = await conn.execute<{ packet: unknown; sql_mode: unknown }>(
    'SELECT @@max_allowed_packet AS packet, @@SESSION.sql_mode AS sql_mode',
  );
  const packet = Number(rows[0]?.packet ?? 4 * 1024 * 1024);
  const fixedBytes = Buffer.byteLength(prefix) + Buffer.byteLength(suffix);
  const rowLimit = packet - PACKET_MARGIN_BYTES - fixedBytes;
  const statementLimit = Math.min(packet - PACKET_MARGIN_BYTES, MAX_STATEMENT_BYTES) - fixedBytes;
  const noBackslashEscapes = /NO_BACKSLASH_ESCAPES/i.test(String(rows[0]?.sql_mode ?? conn.server.sqlMode));
  const savepoint = `cmpkg_bulk_${++writers}`;
  const width = columns.length;
  let closed = false;

  const tuple = (row: readonly PortableValue[], index: number): string => {
    const parts: string[] = new Array(width);
    for (let i = 0; i < width; i++) {
      const column = columns[i]!;
      try {
        parts[i] = mysqlLiteral(column.type, row[i] ?? null, noBackslashEscapes);
      } catch (err) {
        if (!(err instanceof DataTransferError)) throw err;
        throw new DataTransferError(
          'E_DATA',
          `${table}.${column.name}, row ${index + 1} of the batch: ${err.message}`,
          {
            details: { table, column: column.name, row: index + 1 },
          },
        );
      }
    }
    return `(${parts.join(', ')})`;
  };

  return {
    async write(batch) {
      if (closed) throw new UsageError(`bulk write into ${table}: the writer is closed`);
      if (batch.length === 0) return 0;
      return atomically(conn, savepoint, async () => {
        let tuples: string[] = [];
        let bytes = 0;
        const flush = async () => {
          await conn.execute(prefix + tuples.join(', ') + suffix);
          tuples = [];
          bytes = 0;
        };
        for (let r = 0; r < batch.length; r++) {
          const text = tuple(batch[r]!, r);
          const size = Buffer.byteLength(text) + 2; // + the ', ' between tuples
          if (size > rowLimit) {
            throw new DataTransferError(
              'E_DATA',
              `bulk write into ${table}: row ${r + 1} of the batch is ${size} bytes as SQL, more than the ` +
                `server's max_allowed_packet (${packet} bytes) lets one INSERT carry; raise max_allowed_packet`,
              { details: { table, row: r + 1, bytes: size, maxAllowedPacket: packet } },
            );
          }
          if (tuples.length > 0 && bytes + size > statementLimit) await flush();
          tuples.push(text);
          bytes += size;
        }
        if (tuples.length > 0) await flush();
        return batch.length;
      });
    },
    async close() {
      closed = true;
    },
  };
}

/**
 * The SELECT-list expression that reads a MySQL column so `decodeValue` gets the exact value: times
 * with `DATE_FORMAT` and microseconds (`TIMESTAMP(6)` in the session's UTC, marked `Z`), dates as
 * text (mysql2 would build a `Date`), JSON and vectors as text (mysql2 parses MySQL 8's JSON type,
 * which would lose big numbers). Other types are read as they are: mysql2 already gives exact
 * `bigint`s (a string beyond 2^53) and `DECIMAL`s as strings.
 *
 * @example
 * mysqlReadExpression('`day`', 'date'); // "DATE_FORMAT(`day`, '%Y-%m-%d')"
 */
export function mysqlReadExpression(column: string, type: PortableType): string {
  switch (portableTypeKind(type)) {
    case 'timestamp':
      return `DATE_FORMAT(${column}, '%Y-%m-%dT%H:%i:%s.%f')`;
    case 'timestamptz':
      return `DATE_FORMAT(${column}, '%Y-%m-%dT%H:%i:%s.%fZ')`;
    case 'date':
      return `DATE_FORMAT(${column}, '%Y-%m-%d')`;
    case 'json':
    case 'vector':
      return `CAST(${column} AS CHAR)`;
    default:
      return column;
  }
}
