import type {
  CheckDefinition,
  ColumnSnapshot,
  ForeignKeyAction,
  ForeignKeyDefinition,
  IndexDefinition,
  IntrospectOptions,
  PrimaryKeyDefinition,
  RoutineSnapshot,
  SchemaSnapshot,
  TableDefinition,
  TableSnapshot,
  TriggerSnapshot,
  ViewSnapshot,
} from '@cmpkg/core';
import { canonicalNumber } from '@cmpkg/core';
import { mysqlPortableType, quoteMysqlIdentifier as q } from './mysql-adapter.js';
import type { MysqlConnection } from './mysql-connection.js';
import {
  type MysqlColumnDefinition,
  type MysqlFlavor,
  type MysqlIndexPart,
  renderMysqlDdl,
} from './mysql-ddl.js';

type Row = Record<string, unknown>;

const CURRENT_TIME = /^(current_timestamp|now|localtimestamp|localtime)\s*(\(\s*\d*\s*\))?$/i;
const ON_UPDATE_CURRENT_TIME = /\bon update (current_timestamp|now|localtimestamp|localtime)\b/i;
const NUMERIC_TYPES = new Set([
  'tinyint',
  'smallint',
  'mediumint',
  'int',
  'integer',
  'bigint',
  'decimal',
  'numeric',
  'float',
  'double',
  'real',
  'year',
]);

function portableString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

const UNESCAPE: Record<string, string> = { '0': '\0', b: '\b', n: '\n', r: '\r', t: '\t', Z: '\x1a' };

/** The value of a MySQL string literal body (backslash escapes and doubled quotes undone). */
function unescapeMysqlString(body: string, quote: string): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '\\' && i + 1 < body.length) {
      const n = body[++i]!;
      // MySQL keeps the backslash of \% and \_ (they are LIKE escapes).
      out += UNESCAPE[n] ?? (n === '%' || n === '_' ? `\\${n}` : n);
    } else if (c === quote && body[i + 1] === quote) {
      out += c;
      i++;
    } else {
      out += c;
    }
  }
  return out;
}

/**
 * What introspection knows about a column when reading its default.
 *
 * @example
 * const c: DefaultContext = { flavor: 'mariadb', dataType: 'tinyint', extra: '', boolean: true };
 */
export interface DefaultContext {
  flavor: Exclude<MysqlFlavor, 'unknown'>;
  /** `information_schema.COLUMNS.DATA_TYPE`. */
  dataType: string;
  /** `information_schema.COLUMNS.EXTRA` (`DEFAULT_GENERATED` marks expression defaults on MySQL 8). */
  extra: string;
  /** The column maps to the portable `boolean`. */
  boolean: boolean;
}

/**
 * Turns `information_schema.COLUMNS.COLUMN_DEFAULT` into the portable spelling: `undefined` for no
 * default (MariaDB reports a `NULL` default as the text `NULL`), string literals single-quoted with
 * `''` doubling (MariaDB quotes and backslash-escapes them; MySQL 8 returns them bare), canonical
 * numbers, `true`/`false` for boolean columns, `CURRENT_TIMESTAMP` for `current_timestamp(6)` and the
 * like; anything else is the server's expression text.
 *
 * @example
 * portableMysqlDefault("'it''s'", { flavor: 'mariadb', dataType: 'varchar', extra: '', boolean: false }); // "'it''s'"
 * portableMysqlDefault('0.00', { flavor: 'mysql', dataType: 'decimal', extra: '', boolean: false }); // '0'
 */
export function portableMysqlDefault(
  raw: string | null | undefined,
  column: DefaultContext,
): string | undefined {
  if (raw === null || raw === undefined) return undefined;
  const dataType = column.dataType.toLowerCase();
  const numberOrBoolean = (text: string): string | undefined => {
    const n = canonicalNumber(text);
    if (n === undefined) return undefined;
    if (column.boolean && (n === '0' || n === '1')) return n === '1' ? 'true' : 'false';
    return n;
  };
  if (column.flavor === 'mariadb') {
    if (raw === 'NULL') return undefined;
    if (raw.length >= 2 && raw.startsWith("'") && raw.endsWith("'")) {
      return portableString(unescapeMysqlString(raw.slice(1, -1), "'"));
    }
    if (CURRENT_TIME.test(raw.trim())) return 'CURRENT_TIMESTAMP';
    return numberOrBoolean(raw) ?? raw;
  }
  if (/\bDEFAULT_GENERATED\b/i.test(column.extra)) {
    if (CURRENT_TIME.test(raw.trim())) return 'CURRENT_TIMESTAMP';
    // A literal given as an expression (`DEFAULT ('x')` on TEXT/JSON): `_utf8mb4\'x\'`.
    const literal = /^_[a-z0-9]+\\'(.*)\\'$/is.exec(raw.trim());
    if (literal) return portableString(unescapeMysqlString(literal[1]!, "'"));
    return unescapeMysql8Expression(raw);
  }
  if (NUMERIC_TYPES.has(dataType)) return numberOrBoolean(raw) ?? raw;
  if (dataType === 'bit') return raw;
  return portableString(raw);
}

/**
 * Removes `` `schema`. `` qualifiers outside string literals: MySQL stores view definitions with every
 * table qualified by the database, which would tie a re-created view to the original database.
 *
 * @example
 * stripSchemaQualifier('select `shop`.`t`.`id` AS `id` from `shop`.`t`', 'shop'); // 'select `t`.`id` AS `id` from `t`'
 */
export function stripSchemaQualifier(sql: string, schema: string): string {
  const qualifier = `${q(schema)}.`;
  let out = '';
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!;
    if (c === "'" || c === '"') {
      let j = i + 1;
      for (; j < sql.length; j++) {
        if (sql[j] === '\\') j++;
        else if (sql[j] === c) {
          if (sql[j + 1] === c) j++;
          else break;
        }
      }
      out += sql.slice(i, j + 1);
      i = j;
      continue;
    }
    if (c === '`') {
      if (sql.startsWith(qualifier, i)) {
        i += qualifier.length - 1;
        continue;
      }
      let j = i + 1;
      for (; j < sql.length; j++) {
        if (sql[j] === '`') {
          if (sql[j + 1] === '`') j++;
          else break;
        }
      }
      out += sql.slice(i, j + 1);
      i = j;
      continue;
    }
    out += c;
  }
  return out;
}

/**
 * Removes the `DEFINER=user@host` clause of a `SHOW CREATE` statement: the object is then owned by
 * whoever re-creates it, which is what applying it on another server needs.
 *
 * @example
 * stripDefiner('CREATE DEFINER=`root`@`localhost` TRIGGER `t` ...'); // 'CREATE TRIGGER `t` ...'
 */
export function stripDefiner(sql: string): string {
  const keyword = /\b(TRIGGER|PROCEDURE|FUNCTION|VIEW|EVENT)\b/i.exec(sql);
  const head = keyword ? sql.slice(0, keyword.index) : sql;
  const tail = keyword ? sql.slice(keyword.index) : '';
  const part = String.raw`(?:\`(?:[^\`]|\`\`)*\`|'(?:[^']|'')*'|[^\s@\`']+)`;
  return head.replace(new RegExp(String.raw`\bDEFINER\s*=\s*${part}(?:@${part})?\s*`, 'i'), '') + tail;
}

const ACTIONS: Record<string, ForeignKeyAction> = {
  'NO ACTION': 'no action',
  RESTRICT: 'restrict',
  CASCADE: 'cascade',
  'SET NULL': 'set null',
  'SET DEFAULT': 'set default',
};

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));
const key = (...parts: string[]) => parts.join('\u0000');

/**
 * MySQL 8 reports expressions (generated columns, expression defaults, checks, functional key parts)
 * with their quotes backslash-escaped (`_utf8mb4\'x\'`); MariaDB reports them as written.
 */
function unescapeMysql8Expression(text: string): string {
  return text.replace(/\\'/g, "'");
}

function expressionText(text: string, flavor: Exclude<MysqlFlavor, 'unknown'>): string {
  return flavor === 'mysql' ? unescapeMysql8Expression(text) : text;
}

/** One pair of wrapping parentheses removed (MySQL 8 reports `(price >= 0)` for `CHECK (price >= 0)`). */
function unwrap(expr: string): string {
  const e = expr.trim();
  if (!e.startsWith('(') || !e.endsWith(')')) return e;
  let depth = 0;
  for (let i = 0; i < e.length; i++) {
    if (e[i] === '(') depth++;
    else if (e[i] === ')' && --depth === 0 && i < e.length - 1) return e;
  }
  return e.slice(1, -1).trim();
}

/**
 * Reads the connection's database (`DATABASE()`) in the portable model, with one query per kind of
 * object for the whole database (plus one `SHOW CREATE` per trigger and routine, and `count(*)` per
 * table when counts are exact or statistics are missing). Handles the differences between MySQL 8
 * and MariaDB: default spelling, MariaDB's `JSON` (`LONGTEXT` with an implicit `json_valid` check,
 * which is not listed), `CHECK_CONSTRAINTS` layout, MySQL 8 functional key parts (`EXPRESSION`).
 * Indexes InnoDB created for foreign keys are listed: they are real.
 *
 * @example
 * const snapshot = await introspectMysql(conn, { tables: ['users'], exactCounts: true });
 */
export async function introspectMysql(
  conn: MysqlConnection,
  options: IntrospectOptions = {},
): Promise<SchemaSnapshot> {
  const query = async (sql: string, params: unknown[] = []): Promise<Row[]> =>
    (await conn.execute(sql, params)).rows;
  const [info] = await query('SELECT VERSION() AS version, DATABASE() AS db');
  const serverVersion = str(info?.version);
  const schema = str(info?.db);
  const flavor: Exclude<MysqlFlavor, 'unknown'> = /mariadb/i.test(serverVersion) ? 'mariadb' : 'mysql';
  if (flavor === 'mysql') {
    // MySQL 8 caches table statistics for a day by default; read current ones.
    await query('SET SESSION information_schema_stats_expiry = 0').catch(() => undefined);
  }

  const wanted = options.tables ? new Set(options.tables) : undefined;
  const keep = (name: string) =>
    (wanted === undefined || wanted.has(name)) &&
    (options.includeHistoryTables === true || !name.startsWith('cmpkg_'));

  const tableRows = (
    await query(
      `SELECT TABLE_NAME AS name, TABLE_ROWS AS row_estimate, DATA_LENGTH AS data_length, INDEX_LENGTH AS index_length
         FROM information_schema.TABLES
        WHERE TABLE_SCHEMA = ? AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')`,
      [schema],
    )
  ).filter((r) => keep(str(r.name)));
  const names = new Set(tableRows.map((r) => str(r.name)));
  // The collation `DEFAULT CHARSET=utf8mb4` gives in createSql; a column with any other one (a table
  // created `COLLATE utf8mb4_unicode_ci`, utf8mb4_bin keys, utf8mb3 leftovers) records its own.
  const [charset] = await query(
    `SELECT DEFAULT_COLLATE_NAME AS collation FROM information_schema.CHARACTER_SETS
      WHERE CHARACTER_SET_NAME = 'utf8mb4'`,
  );
  const defaultCollation = str(charset?.collation);

  const columnRows = (
    await query(
      `SELECT TABLE_NAME AS table_name, COLUMN_NAME AS name, ORDINAL_POSITION AS position,
              COLUMN_DEFAULT AS column_default, IS_NULLABLE AS is_nullable, DATA_TYPE AS data_type,
              COLUMN_TYPE AS column_type, EXTRA AS extra, COLUMN_COMMENT AS comment,
              GENERATION_EXPRESSION AS generation_expression, COLLATION_NAME AS collation
         FROM information_schema.COLUMNS
        WHERE TABLE_SCHEMA = ?
        ORDER BY TABLE_NAME, ORDINAL_POSITION`,
      [schema],
    )
  ).filter((r) => names.has(str(r.table_name)));

  const checkRows = (
    flavor === 'mariadb'
      ? await query(
          `SELECT TABLE_NAME AS table_name, CONSTRAINT_NAME AS name, CHECK_CLAUSE AS clause, LEVEL AS level
             FROM information_schema.CHECK_CONSTRAINTS
            WHERE CONSTRAINT_SCHEMA = ?`,
          [schema],
        )
      : await query(
          `SELECT tc.TABLE_NAME AS table_name, cc.CONSTRAINT_NAME AS name, cc.CHECK_CLAUSE AS clause, 'Table' AS level
             FROM information_schema.TABLE_CONSTRAINTS tc
             JOIN information_schema.CHECK_CONSTRAINTS cc
               ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
            WHERE tc.TABLE_SCHEMA = ? AND tc.CONSTRAINT_TYPE = 'CHECK'`,
          [schema],
        )
  ).filter((r) => names.has(str(r.table_name)));
  // MariaDB's JSON is LONGTEXT plus a column-level check `json_valid(col)` named after the column.
  const jsonColumns = new Set<string>();
  const implicitChecks = new Set<string>();
  if (flavor === 'mariadb') {
    for (const r of checkRows) {
      const clause = str(r.clause).replace(/[`\s]/g, '').toLowerCase();
      if (str(r.level) === 'Column' && clause === `json_valid(${str(r.name).toLowerCase()})`) {
        jsonColumns.add(key(str(r.table_name), str(r.name)));
        implicitChecks.add(key(str(r.table_name), str(r.name)));
      }
    }
  }

  const statRows = (
    await query(
      `SELECT TABLE_NAME AS table_name, INDEX_NAME AS index_name, NON_UNIQUE AS non_unique,
              SEQ_IN_INDEX AS seq, COLUMN_NAME AS column_name, COLLATION AS collation, SUB_PART AS sub_part,
              INDEX_TYPE AS index_type${flavor === 'mysql' ? ', EXPRESSION AS expression' : ''}
         FROM information_schema.STATISTICS
        WHERE TABLE_SCHEMA = ?
        ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
      [schema],
    )
  ).filter((r) => names.has(str(r.table_name)));

  const fkRows = (
    await query(
      `SELECT k.TABLE_NAME AS table_name, k.CONSTRAINT_NAME AS name, k.COLUMN_NAME AS column_name,
              k.ORDINAL_POSITION AS position, k.REFERENCED_TABLE_NAME AS referenced_table,
              k.REFERENCED_COLUMN_NAME AS referenced_column, r.UPDATE_RULE AS update_rule, r.DELETE_RULE AS delete_rule
         FROM information_schema.KEY_COLUMN_USAGE k
         JOIN information_schema.REFERENTIAL_CONSTRAINTS r
           ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.TABLE_NAME = k.TABLE_NAME
          AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME
        WHERE k.TABLE_SCHEMA = ? AND k.REFERENCED_TABLE_NAME IS NOT NULL
        ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION`,
      [schema],
    )
  ).filter((r) => names.has(str(r.table_name)));

  const tables: TableSnapshot[] = [];
  for (const t of tableRows) {
    const name = str(t.name);
    const columns = columnRows
      .filter((r) => str(r.table_name) === name)
      .map((r) => toColumn(r, flavor, jsonColumns, defaultCollation));
    const { primaryKey, indexes } = toIndexes(
      statRows.filter((r) => str(r.table_name) === name),
      flavor,
    );
    const foreignKeys = toForeignKeys(fkRows.filter((r) => str(r.table_name) === name));
    const checks: CheckDefinition[] = checkRows
      .filter((r) => str(r.table_name) === name && !implicitChecks.has(key(name, str(r.name))))
      .map((r) => ({ name: str(r.name), expression: unwrap(expressionText(str(r.clause), flavor)) }))
      .sort(byName);
    const definition = { name, columns, ...(primaryKey ? { primaryKey } : {}), indexes, foreignKeys, checks };
    let rowCount: number;
    let rowCountExact: boolean;
    if (options.exactCounts || t.row_estimate === null || t.row_estimate === undefined) {
      const [c] = await query(`SELECT COUNT(*) AS n FROM ${q(name)}`);
      rowCount = Number(c?.n ?? 0);
      rowCountExact = true;
    } else {
      rowCount = Number(t.row_estimate);
      rowCountExact = false;
    }
    const size = Number(t.data_length ?? 0) + Number(t.index_length ?? 0);
    tables.push({
      ...definition,
      rowCount,
      rowCountExact,
      ...(Number.isFinite(size) && (t.data_length !== null || t.index_length !== null)
        ? { sizeBytes: size }
        : {}),
      createSql: await createTableSql(definition, flavor, query),
    });
  }
  tables.sort(byName);

  const triggers = await readTriggers(query, schema, names);
  const views = wanted ? [] : await readViews(query, schema);
  const routines = wanted ? [] : await readRoutines(query, schema);

  return {
    format: 'cmpkg-schema/1',
    engine: 'mysql',
    serverVersion,
    schema,
    tables,
    views,
    triggers,
    routines,
  };
}

function toColumn(
  r: Row,
  flavor: Exclude<MysqlFlavor, 'unknown'>,
  jsonColumns: Set<string>,
  defaultCollation: string,
): ColumnSnapshot & MysqlColumnDefinition {
  const name = str(r.name);
  const dataType = str(r.data_type).toLowerCase();
  const columnType = str(r.column_type);
  const extra = str(r.extra);
  const comment = str(r.comment);
  const generated = /\b(VIRTUAL|STORED|PERSISTENT) GENERATED\b/i.exec(extra);
  const mapped = mysqlPortableType({
    dataType,
    columnType,
    jsonCheck: jsonColumns.has(key(str(r.table_name), name)),
    comment,
  });
  const column: ColumnSnapshot & MysqlColumnDefinition = {
    name,
    type: mapped.type,
    nativeType: columnType,
    nullable: str(r.is_nullable).toUpperCase() === 'YES',
  };
  if (generated) {
    // Not portable: kept as the engine's column type so the snapshot still recreates the column.
    const storage = generated[1]!.toUpperCase() === 'VIRTUAL' ? 'VIRTUAL' : 'STORED';
    column.type = null;
    const expression = expressionText(str(r.generation_expression), flavor);
    column.nativeType = `${columnType} GENERATED ALWAYS AS (${expression}) ${storage}`;
  } else if (/\bauto_increment\b/i.test(extra)) {
    column.autoIncrement = true;
  } else {
    const dflt = portableMysqlDefault(r.column_default as string | null, {
      flavor,
      dataType,
      extra,
      boolean: mapped.type === 'boolean',
    });
    if (dflt !== undefined) column.default = dflt;
  }
  // `updated_at ... ON UPDATE CURRENT_TIMESTAMP` shows only in EXTRA (`on update current_timestamp(6)`);
  // without it a recreated table would silently stop maintaining the column.
  if (ON_UPDATE_CURRENT_TIME.test(extra)) column.onUpdate = 'CURRENT_TIMESTAMP';
  // A collation other than utf8mb4's default changes what equal and unique mean, so it is kept. JSON has a fixed one (MariaDB's JSON is utf8mb4_bin LONGTEXT) that is part of the type;
  // a generated column keeps its type text verbatim, where a COLLATE could not be appended.
  const collation = str(r.collation);
  if (
    !generated &&
    collation !== '' &&
    collation !== defaultCollation &&
    mapped.type !== 'json' &&
    !mapped.vectorMarker
  ) {
    column.collation = collation;
  }
  if (comment !== '' && !mapped.vectorMarker) column.comment = comment;
  return column;
}

function toIndexes(
  rows: Row[],
  flavor: Exclude<MysqlFlavor, 'unknown'>,
): { primaryKey?: PrimaryKeyDefinition; indexes: IndexDefinition[] } {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const name = str(r.index_name);
    const list = groups.get(name) ?? [];
    list.push(r);
    groups.set(name, list);
  }
  let primaryKey: PrimaryKeyDefinition | undefined;
  const indexes: IndexDefinition[] = [];
  for (const [name, parts] of groups) {
    parts.sort((a, b) => Number(a.seq) - Number(b.seq));
    if (name === 'PRIMARY') {
      primaryKey = { columns: parts.map((p) => str(p.column_name)) };
      continue;
    }
    const spatial = /^(SPATIAL|RTREE)$/i.test(str(parts[0]!.index_type));
    const index: IndexDefinition = {
      name,
      unique: Number(parts[0]!.non_unique) === 0,
      parts: parts.map((p) => {
        const part: MysqlIndexPart =
          p.column_name === null || p.column_name === undefined
            ? { expression: unwrap(expressionText(str(p.expression), flavor)) }
            : { column: str(p.column_name) };
        // MariaDB reports SUB_PART 32 for SPATIAL key parts, a length it then refuses in CREATE INDEX.
        if (p.sub_part !== null && p.sub_part !== undefined && !spatial) part.length = Number(p.sub_part);
        if (str(p.collation) === 'D') part.descending = true;
        return part;
      }),
    };
    const method = str(parts[0]!.index_type).toUpperCase();
    if (method === 'HASH') index.method = 'hash';
    else if (method === 'FULLTEXT') index.method = 'fulltext';
    else if (method === 'SPATIAL' || method === 'RTREE') index.method = 'spatial';
    indexes.push(index);
  }
  indexes.sort(byName);
  return primaryKey ? { primaryKey, indexes } : { indexes };
}

function toForeignKeys(rows: Row[]): ForeignKeyDefinition[] {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const list = groups.get(str(r.name)) ?? [];
    list.push(r);
    groups.set(str(r.name), list);
  }
  const fks: Array<ForeignKeyDefinition & { name: string }> = [];
  for (const [name, cols] of groups) {
    cols.sort((a, b) => Number(a.position) - Number(b.position));
    fks.push({
      name,
      columns: cols.map((c) => str(c.column_name)),
      referencedTable: str(cols[0]!.referenced_table),
      referencedColumns: cols.map((c) => str(c.referenced_column)),
      onDelete: ACTIONS[str(cols[0]!.delete_rule).toUpperCase()] ?? 'no action',
      onUpdate: ACTIONS[str(cols[0]!.update_rule).toUpperCase()] ?? 'no action',
    });
  }
  return fks.sort(byName);
}

async function createTableSql(
  table: TableDefinition,
  flavor: Exclude<MysqlFlavor, 'unknown'>,
  query: (sql: string) => Promise<Row[]>,
): Promise<string[]> {
  try {
    return renderMysqlDdl({ kind: 'createTable', table }, { flavor });
  } catch {
    // Something the portable renderer refuses (it cannot happen for what InnoDB accepted, but a
    // snapshot must never fail over it): the server's own statement.
    const [row] = await query(`SHOW CREATE TABLE ${q(table.name)}`);
    return [str(row?.['Create Table'])];
  }
}

async function readViews(query: (sql: string, params?: unknown[]) => Promise<Row[]>, schema: string) {
  const rows = await query(
    `SELECT TABLE_NAME AS name, VIEW_DEFINITION AS definition, CHECK_OPTION AS check_option,
            SECURITY_TYPE AS security_type
       FROM information_schema.VIEWS
      WHERE TABLE_SCHEMA = ?`,
    [schema],
  );
  const views: ViewSnapshot[] = rows.map((r) => {
    const definition = stripSchemaQualifier(str(r.definition), schema);
    const security = str(r.security_type).toUpperCase() === 'INVOKER' ? 'SQL SECURITY INVOKER ' : '';
    const check = str(r.check_option).toUpperCase();
    const withCheck = check === 'CASCADED' || check === 'LOCAL' ? ` WITH ${check} CHECK OPTION` : '';
    return {
      name: str(r.name),
      definition,
      createSql: `CREATE ${security}VIEW ${q(str(r.name))} AS ${definition}${withCheck}`,
    };
  });
  return views.sort(byName);
}

async function readTriggers(
  query: (sql: string, params?: unknown[]) => Promise<Row[]>,
  schema: string,
  tables: Set<string>,
): Promise<TriggerSnapshot[]> {
  const rows = (
    await query(
      `SELECT TRIGGER_NAME AS name, EVENT_OBJECT_TABLE AS table_name, ACTION_TIMING AS timing,
              EVENT_MANIPULATION AS event, ACTION_STATEMENT AS body
         FROM information_schema.TRIGGERS
        WHERE TRIGGER_SCHEMA = ?
        ORDER BY ACTION_ORDER`,
      [schema],
    )
  ).filter((r) => tables.has(str(r.table_name)));
  const triggers: TriggerSnapshot[] = [];
  for (const r of rows) {
    const name = str(r.name);
    const timing = str(r.timing).toLowerCase() as TriggerSnapshot['timing'];
    const event = str(r.event).toLowerCase() as TriggerSnapshot['events'][number];
    let createSql = '';
    try {
      const [shown] = await query(`SHOW CREATE TRIGGER ${q(name)}`);
      createSql = stripDefiner(str(shown?.['SQL Original Statement']));
    } catch {
      // Built from information_schema below.
    }
    if (createSql === '') {
      createSql =
        `CREATE TRIGGER ${q(name)} ${timing.toUpperCase()} ${event.toUpperCase()} ON ${q(str(r.table_name))} ` +
        `FOR EACH ROW ${str(r.body)}`;
    }
    triggers.push({ name, table: str(r.table_name), timing, events: [event], createSql });
  }
  return triggers.sort(byName);
}

async function readRoutines(
  query: (sql: string, params?: unknown[]) => Promise<Row[]>,
  schema: string,
): Promise<RoutineSnapshot[]> {
  const rows = await query(
    `SELECT ROUTINE_NAME AS name, ROUTINE_TYPE AS kind
       FROM information_schema.ROUTINES
      WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE IN ('FUNCTION', 'PROCEDURE')`,
    [schema],
  );
  const routines: RoutineSnapshot[] = [];
  for (const r of rows) {
    const name = str(r.name);
    const kind = str(r.kind).toUpperCase() === 'FUNCTION' ? 'function' : 'procedure';
    const column = kind === 'function' ? 'Create Function' : 'Create Procedure';
    let createSql = '';
    try {
      const [shown] = await query(`SHOW CREATE ${kind.toUpperCase()} ${q(name)}`);
      createSql = stripDefiner(str(shown?.[column]));
    } catch {
      // Reported below.
    }
    if (createSql === '') {
      // The server shows a routine's text only to its definer and to users with SHOW_ROUTINE / SELECT
      // on mysql.proc; there is nothing to rebuild it from.
      createSql = `-- the definition of ${kind} ${name} is not visible to this user`;
    }
    routines.push({ name, kind, language: 'sql', createSql });
  }
  return routines.sort((a, b) => byName(a, b) || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0));
}
