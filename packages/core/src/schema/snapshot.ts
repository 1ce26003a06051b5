import type { Engine } from '../model/schema.js';
import type { PortableType } from './portable-types.js';

/**
 * What a foreign key does when the referenced row is deleted or its key updated.
 *
 * @example
 * const onDelete: ForeignKeyAction = 'cascade';
 */
export type ForeignKeyAction = 'no action' | 'restrict' | 'cascade' | 'set null' | 'set default';

/**
 * A column as `renderDdl` creates it.
 *
 * `default` is an SQL expression in portable spelling where the dialect recognises it: string
 * literals single-quoted (`'draft'`), numbers bare (`0`, `1.5`), booleans `true`/`false`, the
 * current time `CURRENT_TIMESTAMP`; anything else is the engine's own expression text.
 *
 * @example
 * const col: ColumnDefinition = { name: 'status', type: 'varchar(20)', nullable: false, default: "'draft'" };
 */
export interface ColumnDefinition {
  name: string;
  /** `null` when the engine's type has no portable equivalent; `nativeType` then says what it is. */
  type: PortableType | null;
  /**
   * The engine's own spelling (`character varying(20)`, `tinyint(1)`). When rendering for the
   * engine it came from, `renderDdl` uses it for columns whose `type` is `null`.
   */
  nativeType?: string;
  nullable: boolean;
  default?: string | null;
  /** Generated keys: identity (PostgreSQL), AUTO_INCREMENT (MySQL), INTEGER PRIMARY KEY (SQLite). */
  autoIncrement?: boolean;
}

/**
 * One key part of an index: a column, or an expression where the engine has expression indexes.
 *
 * @example
 * const parts: IndexPart[] = [{ column: 'created_at', descending: true }, { expression: 'lower(email)' }];
 */
export interface IndexPart {
  column?: string;
  expression?: string;
  descending?: boolean;
}

/**
 * An index. `where` makes it partial (PostgreSQL, SQLite); MySQL has no partial indexes.
 *
 * @example
 * const idx: IndexDefinition = { name: 'users_email_key', unique: true, parts: [{ expression: 'lower(email)' }] };
 */
export interface IndexDefinition {
  name: string;
  unique: boolean;
  parts: IndexPart[];
  where?: string;
  /** Access method where it is not the engine's default (`gin`, `hash`, `fulltext`). */
  method?: string;
}

/**
 * A foreign key. Actions default to `no action`.
 *
 * @example
 * const fk: ForeignKeyDefinition = {
 *   name: 'orders_user_fk', columns: ['user_id'], referencedTable: 'users', referencedColumns: ['id'],
 *   onDelete: 'cascade', onUpdate: 'no action',
 * };
 */
export interface ForeignKeyDefinition {
  name?: string;
  columns: string[];
  referencedTable: string;
  referencedColumns: string[];
  onDelete: ForeignKeyAction;
  onUpdate: ForeignKeyAction;
}

/**
 * A check constraint; `expression` is the condition without `CHECK ( )`.
 *
 * @example
 * const check: CheckDefinition = { name: 'price_positive', expression: 'price > 0' };
 */
export interface CheckDefinition {
  name?: string;
  expression: string;
}

/**
 * A primary key.
 *
 * @example
 * const pk: PrimaryKeyDefinition = { columns: ['tenant_id', 'id'] };
 */
export interface PrimaryKeyDefinition {
  name?: string;
  columns: string[];
}

/**
 * A table in the portable schema model: the input of `renderDdl` and the core of every
 * introspected {@link TableSnapshot}.
 *
 * @example
 * const users: TableDefinition = {
 *   name: 'users',
 *   columns: [
 *     { name: 'id', type: 'bigint', nullable: false, autoIncrement: true },
 *     { name: 'email', type: 'varchar(200)', nullable: false },
 *   ],
 *   primaryKey: { columns: ['id'] },
 *   indexes: [{ name: 'users_email', unique: true, parts: [{ column: 'email' }] }],
 *   foreignKeys: [],
 *   checks: [],
 * };
 */
export interface TableDefinition {
  name: string;
  columns: ColumnDefinition[];
  primaryKey?: PrimaryKeyDefinition;
  indexes: IndexDefinition[];
  foreignKeys: ForeignKeyDefinition[];
  checks: CheckDefinition[];
}

/** An introspected column: its definition plus anything else the engine reported. */
export interface ColumnSnapshot extends ColumnDefinition {
  nativeType: string;
  /** The column comment, where the engine has them and one is set. */
  comment?: string;
}

/**
 * An introspected table.
 *
 * @example
 * const t: TableSnapshot = snapshot.tables.find((t) => t.name === 'users')!;
 * console.log(t.rowCount, t.rowCountExact ? 'exact' : 'estimated', t.createSql.join(';\n'));
 */
export interface TableSnapshot extends TableDefinition {
  columns: ColumnSnapshot[];
  /** Rows: exact when `rowCountExact`, otherwise the engine's statistics estimate. */
  rowCount: number;
  rowCountExact: boolean;
  /** Bytes on disk (data + indexes) where the engine can tell. */
  sizeBytes?: number;
  /** The statements that create this table and its indexes on this engine. */
  createSql: string[];
}

/**
 * An introspected view.
 *
 * @example
 * const v: ViewSnapshot = { name: 'active_users', definition: 'SELECT ...', createSql: 'CREATE VIEW ...' };
 */
export interface ViewSnapshot {
  name: string;
  /** The SELECT as the engine stores it. */
  definition: string;
  createSql: string;
}

/**
 * An introspected trigger.
 *
 * @example
 * const t: TriggerSnapshot = { name: 'touch', table: 'users', timing: 'before', events: ['update'], createSql: '...' };
 */
export interface TriggerSnapshot {
  name: string;
  table: string;
  timing: 'before' | 'after' | 'instead of';
  events: Array<'insert' | 'update' | 'delete' | 'truncate'>;
  createSql: string;
}

/**
 * An introspected function or stored procedure (none on SQLite).
 *
 * @example
 * const r: RoutineSnapshot = { name: 'add_one', kind: 'function', language: 'sql', createSql: '...' };
 */
export interface RoutineSnapshot {
  name: string;
  kind: 'function' | 'procedure';
  language?: string;
  createSql: string;
}

/**
 * The portable description of a database schema that `Dialect.introspect` returns and
 * `cmpkg introspect --json` prints. Every list is sorted by name so two snapshots of the same
 * schema are equal.
 *
 * @example
 * const snapshot: SchemaSnapshot = await dialect.introspect(conn);
 * for (const t of snapshot.tables) console.log(t.name, t.columns.map((c) => `${c.name} ${c.type}`));
 */
export interface SchemaSnapshot {
  format: 'cmpkg-schema/1';
  engine: Engine;
  /** The server's version string. */
  serverVersion: string;
  /** The PostgreSQL schema, MySQL database or SQLite schema (`main`) that was read. */
  schema: string;
  tables: TableSnapshot[];
  views: ViewSnapshot[];
  triggers: TriggerSnapshot[];
  routines: RoutineSnapshot[];
}

/**
 * Options of `Dialect.introspect`.
 *
 * @example
 * await dialect.introspect(conn, { tables: ['users'], exactCounts: true });
 */
export interface IntrospectOptions {
  /** Only these tables (and the triggers on them); views and routines are then left out. */
  tables?: string[];
  /** Count rows with `count(*)` instead of reading statistics. Exact, but reads every table. */
  exactCounts?: boolean;
  /** Include cmpkg's own history tables (`cmpkg_*`); left out by default. */
  includeHistoryTables?: boolean;
}

/**
 * A change to the portable schema model that `Dialect.renderDdl` turns into native SQL.
 *
 * - `createTable` renders the table with its columns, primary key, checks and foreign keys, then
 *   one `CREATE INDEX` per index.
 * - `createIndex` / `addForeignKey` / `addColumn` alter an existing table.
 * - `dropTable` / `dropIndex` remove objects (`IF EXISTS`).
 *
 * @example
 * const statements = dialect.renderDdl({ kind: 'createTable', table: users });
 * for (const s of statements) await conn.execute(s);
 */
export type SchemaChange =
  | { kind: 'createTable'; table: TableDefinition }
  | { kind: 'dropTable'; table: string }
  | { kind: 'addColumn'; table: string; column: ColumnDefinition }
  | { kind: 'createIndex'; table: string; index: IndexDefinition }
  | { kind: 'dropIndex'; table: string; name: string }
  | { kind: 'addForeignKey'; table: string; foreignKey: ForeignKeyDefinition };
