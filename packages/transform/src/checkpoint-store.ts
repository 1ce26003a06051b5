import type { PortableType, PortableValue, TableDefinition } from '@cmpkg/core';
import { decodeJsonValue, encodeJsonValue } from '@cmpkg/core';
import { type DatabaseHandle, placeholder } from './database-handle.js';

/**
 * The table that keeps the last key written per job and table (same name on every engine).
 *
 * @example
 * await db.connection.execute(`SELECT job_id, table_name FROM ${CHECKPOINT_TABLE}`);
 */
export const CHECKPOINT_TABLE = 'cmpkg_checkpoints';

const DEFINITION: TableDefinition = {
  name: CHECKPOINT_TABLE,
  columns: [
    { name: 'job_id', type: 'varchar(200)', nullable: false },
    { name: 'table_name', type: 'varchar(200)', nullable: false },
    { name: 'last_key', type: 'text', nullable: true },
    { name: 'rows_done', type: 'bigint', nullable: false },
    { name: 'status', type: 'varchar(20)', nullable: false },
    { name: 'updated_at', type: 'varchar(40)', nullable: false },
  ],
  primaryKey: { columns: ['job_id', 'table_name'] },
  indexes: [],
  foreignKeys: [],
  checks: [],
};

/**
 * Where a job stands on one table: `running` with the key of the last committed row, or `done`.
 *
 * @example
 * const cp: Checkpoint = { jobId: 'copy-1', table: 'users', lastKey: [1000], rowsDone: 1000, status: 'running' };
 */
export interface Checkpoint {
  jobId: string;
  table: string;
  /** `null` before the first batch (or for a table finished without rows). */
  lastKey: PortableValue[] | null;
  rowsDone: number;
  status: 'running' | 'done';
  updatedAt?: string;
}

/**
 * Checkpoints of resumable jobs (copies, batch-committed transforms) in `cmpkg_checkpoints` of the
 * target database. `save` runs in the caller's transaction, together with the batch it records, so
 * a checkpoint never claims rows that were not committed.
 *
 * @example
 * const store = await CheckpointStore.open(db);
 * const cp = await store.get('job-1', 'users', ['bigint']);
 * await db.connection.execute('BEGIN');
 * // … write a batch …
 * await store.save('job-1', 'users', [1000], 1000, 'running');
 * await db.connection.execute('COMMIT');
 */
export class CheckpointStore {
  readonly #db: DatabaseHandle;
  readonly #table: string;

  private constructor(db: DatabaseHandle) {
    this.#db = db;
    this.#table = db.dialect.quoteIdentifier(CHECKPOINT_TABLE);
  }

  /**
   * Opens the store, creating the table when it is missing. Call it outside a transaction on MySQL
   * (DDL commits there).
   */
  static async open(db: DatabaseHandle): Promise<CheckpointStore> {
    if (!(await tableExists(db))) {
      try {
        for (const sql of db.dialect.renderDdl({ kind: 'createTable', table: DEFINITION })) {
          await db.connection.execute(sql);
        }
      } catch (err) {
        // Another job created it in the meantime.
        if (!(await tableExists(db))) throw err;
      }
    }
    return new CheckpointStore(db);
  }

  #p(n: number): string {
    return placeholder(this.#db.dialect.engine, n);
  }

  /**
   * The checkpoint of a job's table, if any. With `keyTypes` (the portable types of the key
   * columns) the key comes back decoded; without, as JSON values.
   */
  async get(
    jobId: string,
    table: string,
    keyTypes?: readonly PortableType[],
  ): Promise<Checkpoint | undefined> {
    const { rows } = await this.#db.connection.execute<Record<string, unknown>>(
      `SELECT job_id, table_name, last_key, rows_done, status, updated_at FROM ${this.#table} WHERE job_id = ${this.#p(1)} AND table_name = ${this.#p(2)}`,
      [jobId, table],
    );
    const row = rows[0];
    return row ? toCheckpoint(row, keyTypes) : undefined;
  }

  /** Every checkpoint of a job, by table name. */
  async list(jobId: string): Promise<Checkpoint[]> {
    const { rows } = await this.#db.connection.execute<Record<string, unknown>>(
      `SELECT job_id, table_name, last_key, rows_done, status, updated_at FROM ${this.#table} WHERE job_id = ${this.#p(1)} ORDER BY table_name`,
      [jobId],
    );
    return rows.map((r) => toCheckpoint(r));
  }

  /** Records where a job stands on a table; runs in the caller's transaction. */
  async save(
    jobId: string,
    table: string,
    lastKey: readonly PortableValue[] | null,
    rowsDone: number,
    status: 'running' | 'done',
  ): Promise<void> {
    // Delete + insert: the one upsert every engine spells the same way.
    const conn = this.#db.connection;
    await conn.execute(
      `DELETE FROM ${this.#table} WHERE job_id = ${this.#p(1)} AND table_name = ${this.#p(2)}`,
      [jobId, table],
    );
    const key = lastKey === null ? null : JSON.stringify(lastKey.map((v) => encodeJsonValue('text', v)));
    await conn.execute(
      `INSERT INTO ${this.#table} (job_id, table_name, last_key, rows_done, status, updated_at) VALUES (${[1, 2, 3, 4, 5, 6].map((n) => this.#p(n)).join(', ')})`,
      [jobId, table, key, rowsDone, status, new Date().toISOString()],
    );
  }

  /** Forgets a job (every table, or one). */
  async clear(jobId: string, table?: string): Promise<void> {
    await this.#db.connection.execute(
      `DELETE FROM ${this.#table} WHERE job_id = ${this.#p(1)}${table === undefined ? '' : ` AND table_name = ${this.#p(2)}`}`,
      table === undefined ? [jobId] : [jobId, table],
    );
  }
}

function toCheckpoint(row: Record<string, unknown>, keyTypes?: readonly PortableType[]): Checkpoint {
  const text = row.last_key;
  let lastKey: PortableValue[] | null = null;
  if (typeof text === 'string') {
    const json = JSON.parse(text) as unknown[];
    lastKey = json.map((v, i) => {
      const type = keyTypes?.[i];
      if (type !== undefined) return decodeJsonValue(type, v);
      return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
        ? v
        : JSON.stringify(v);
    });
  }
  return {
    jobId: String(row.job_id),
    table: String(row.table_name),
    lastKey,
    rowsDone: Number(row.rows_done),
    status: row.status === 'done' ? 'done' : 'running',
    ...(typeof row.updated_at === 'string' ? { updatedAt: row.updated_at } : {}),
  };
}

async function tableExists(db: DatabaseHandle): Promise<boolean> {
  const { dialect, connection } = db;
  // Engine catalog queries, not a probing SELECT: a failed statement would abort a PostgreSQL transaction.
  let sql: string;
  switch (dialect.engine) {
    case 'postgresql':
      sql = `SELECT count(*) AS n FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = $1`;
      break;
    case 'mysql':
      sql =
        'SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = database() AND table_name = ?';
      break;
    case 'sqlite':
      sql = "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?";
      break;
    default:
      sql = 'SELECT count(*) AS n FROM information_schema.tables WHERE table_name = ?';
  }
  const { rows } = await connection.execute<{ n: unknown }>(sql, [CHECKPOINT_TABLE]);
  return Number(rows[0]?.n ?? 0) > 0;
}
