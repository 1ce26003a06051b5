import type {
  CheckDefinition,
  ColumnSnapshot,
  Connection,
  ForeignKeyAction,
  ForeignKeyDefinition,
  IndexDefinition,
  IndexPart,
  IntrospectOptions,
  PortableType,
  SchemaSnapshot,
  TableSnapshot,
  TriggerSnapshot,
  ViewSnapshot,
} from '@cmpkg/core';
import { canonicalNumber } from '@cmpkg/core';
import type Database from 'better-sqlite3';
import { sqlitePortableType } from './sqlite-adapter.js';
import { asSqliteConnection } from './sqlite-connection.js';
import { quoteSqliteIdentifier, renderSqliteDdl } from './sqlite-ddl.js';

// ---------------------------------------------------------------- scanner
//
// Check constraints, constraint names, AUTOINCREMENT, index expressions and partial-index conditions
// are in no pragma: SQLite keeps them only in the CREATE statement it stores in sqlite_master. These
// functions read just enough of that statement, on tokens, so that quotes, comments and parentheses
// inside expressions and string literals can never be mistaken for structure.

/**
 * One token of SQLite SQL. Comments and white space are dropped; `start`/`end` are offsets into the
 * source, so expressions are sliced from it exactly as written.
 * @internal
 */
export interface SqlToken {
  kind: 'word' | 'identifier' | 'string' | 'number' | 'blob' | 'punct';
  /** The source text of the token. */
  text: string;
  /** Identifiers and strings without their quotes (doubled quotes undone); otherwise `text`. */
  value: string;
  start: number;
  end: number;
}

const WORD = /[A-Za-z_\u0080-\uFFFF][A-Za-z0-9_$\u0080-\uFFFF]*/y;
const NUMBER = /0[xX][0-9A-Fa-f]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;

/**
 * Splits SQLite SQL into tokens, skipping `--` and `/* *\/` comments. Strings (`'a''b'`), quoted
 * identifiers (`"a""b"`, `` `a` ``, `[a]`) and blob literals (`x'00'`) are single tokens; an
 * unterminated one runs to the end of the text.
 *
 * @internal
 * @example
 * tokenizeSqlite("check (a <> ')')").map((t) => t.text); // ['check', '(', 'a', '<', '>', "')'", ')']
 */
export function tokenizeSqlite(sql: string): SqlToken[] {
  const tokens: SqlToken[] = [];
  let i = 0;
  const push = (kind: SqlToken['kind'], start: number, end: number, value?: string) => {
    const text = sql.slice(start, end);
    tokens.push({ kind, text, value: value ?? text, start, end });
  };
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? sql.length : nl + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      i = close < 0 ? sql.length : close + 2;
    } else if (c === "'" || c === '"' || c === '`' || c === '[') {
      const closeChar = c === '[' ? ']' : c;
      let j = i + 1;
      let value = '';
      for (;;) {
        if (j >= sql.length) break;
        const d = sql[j]!;
        if (d === closeChar) {
          // Doubling escapes the quote; brackets have no escape.
          if (c !== '[' && sql[j + 1] === closeChar) {
            value += d;
            j += 2;
            continue;
          }
          j++;
          break;
        }
        value += d;
        j++;
      }
      push(c === "'" ? 'string' : 'identifier', i, j, value);
      i = j;
    } else if ((c === 'x' || c === 'X') && sql[i + 1] === "'") {
      const close = sql.indexOf("'", i + 2);
      const end = close < 0 ? sql.length : close + 1;
      push('blob', i, end);
      i = end;
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      NUMBER.lastIndex = i;
      NUMBER.exec(sql);
      push('number', i, NUMBER.lastIndex);
      i = NUMBER.lastIndex;
    } else {
      WORD.lastIndex = i;
      if (WORD.exec(sql)) {
        push('word', i, WORD.lastIndex);
        i = WORD.lastIndex;
      } else {
        push('punct', i, i + 1);
        i++;
      }
    }
  }
  return tokens;
}

function isWord(token: SqlToken | undefined, ...words: string[]): boolean {
  return token?.kind === 'word' && words.includes(token.text.toUpperCase());
}

function isPunct(token: SqlToken | undefined, char: string): boolean {
  return token?.kind === 'punct' && token.text === char;
}

/** The name a token stands for: SQLite takes quoted identifiers, bare words and even strings as names. */
function nameOf(token: SqlToken | undefined): string {
  return token === undefined ? '' : token.value;
}

/** Index of the `)` closing the `(` at `open` (or the end, when the text is cut short). */
function closingParen(tokens: SqlToken[], open: number): number {
  let depth = 0;
  for (let k = open; k < tokens.length; k++) {
    if (isPunct(tokens[k], '(')) depth++;
    else if (isPunct(tokens[k], ')') && --depth === 0) return k;
  }
  return tokens.length;
}

/** `[start, end)` ranges of the comma-separated items in `tokens[from, to)`, at parenthesis depth 0. */
function splitItems(tokens: SqlToken[], from: number, to: number): Array<[number, number]> {
  const items: Array<[number, number]> = [];
  let start = from;
  for (let k = from; k < to; k++) {
    if (isPunct(tokens[k], '(')) k = closingParen(tokens, k);
    else if (isPunct(tokens[k], ',')) {
      items.push([start, k]);
      start = k + 1;
    }
  }
  if (start < to) items.push([start, to]);
  return items;
}

/** The first token at depth 0 in `[from, tokens.length)` that `match` accepts, or -1. */
function findTopLevel(tokens: SqlToken[], from: number, match: (t: SqlToken) => boolean): number {
  for (let k = from; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (match(t)) return k;
    if (isPunct(t, '(')) k = closingParen(tokens, k);
  }
  return -1;
}

/** Source text of `tokens[from, to)`, with parentheses that wrap all of it removed. */
function sliceUnwrapped(sql: string, tokens: SqlToken[], from: number, to: number): string {
  let a = from;
  let b = to;
  while (b - a >= 2 && isPunct(tokens[a], '(') && closingParen(tokens, a) === b - 1) {
    a++;
    b--;
  }
  return a < b ? sql.slice(tokens[a]!.start, tokens[b - 1]!.end) : '';
}

/**
 * What a `CREATE TABLE` statement says beyond the pragmas.
 * @internal
 */
export interface ParsedCreateTable {
  /** The `CONSTRAINT` name of the primary key, when it has one. */
  primaryKeyName?: string;
  /** Per column name (lower case): `AUTOINCREMENT`, and a column-level `PRIMARY KEY DESC`. */
  columns: Map<string, { autoIncrement: boolean; primaryKeyDesc: boolean }>;
  /** Column-level and table-level checks, in the order written; `expression` as written. */
  checks: CheckDefinition[];
  /** Foreign keys in the order written (column-level ones have that one column). */
  foreignKeys: Array<{ name?: string; columns: string[]; referencedTable: string }>;
}

/**
 * Reads the constraints of a `CREATE TABLE` statement: check constraints (column- and table-level,
 * with their `CONSTRAINT` names), foreign-key names, the primary key's name and `AUTOINCREMENT`.
 * `CREATE TABLE ... AS SELECT` has none.
 *
 * @internal
 * @example
 * parseCreateTable('create table t (a int constraint pos check (a > 0), b text check (b <> \',\'))').checks;
 * // [{ name: 'pos', expression: 'a > 0' }, { expression: "b <> ','" }]
 */
export function parseCreateTable(sql: string): ParsedCreateTable {
  const result: ParsedCreateTable = { columns: new Map(), checks: [], foreignKeys: [] };
  const tokens = tokenizeSqlite(sql);
  const open = findTopLevel(tokens, 0, (t) => isPunct(t, '(') || isWord(t, 'AS'));
  if (open < 0 || !isPunct(tokens[open], '(')) return result;
  for (const [from, to] of splitItems(tokens, open + 1, closingParen(tokens, open))) {
    const first = tokens[from]!;
    const tableLevel = isWord(first, 'CONSTRAINT', 'PRIMARY', 'UNIQUE', 'CHECK', 'FOREIGN');
    const column = tableLevel ? undefined : nameOf(first);
    const flags = { autoIncrement: false, primaryKeyDesc: false };
    if (column !== undefined) result.columns.set(column.toLowerCase(), flags);
    // A CONSTRAINT name belongs to the constraint that follows it.
    let pending: string | undefined;
    let fkColumns: string[] | undefined;
    let k = tableLevel ? from : from + 1;
    while (k < to) {
      const t = tokens[k]!;
      if (isPunct(t, '(')) {
        // Type parameters, DEFAULT (expr), key lists: nothing named inside.
        k = closingParen(tokens, k) + 1;
        continue;
      }
      const word = t.kind === 'word' ? t.text.toUpperCase() : '';
      if (word === 'CONSTRAINT') {
        pending = nameOf(tokens[k + 1]);
        k += 2;
      } else if (word === 'CHECK' && isPunct(tokens[k + 1], '(')) {
        const close = closingParen(tokens, k + 1);
        const end = tokens[close]?.start ?? sql.length;
        const expression = sql.slice(tokens[k + 1]!.end, end).trim();
        result.checks.push(pending === undefined ? { expression } : { name: pending, expression });
        pending = undefined;
        k = close + 1;
      } else if (word === 'PRIMARY') {
        if (pending !== undefined) result.primaryKeyName = pending;
        pending = undefined;
        if (column !== undefined && isWord(tokens[k + 2], 'DESC')) flags.primaryKeyDesc = true;
        k += 2;
      } else if (word === 'AUTOINCREMENT') {
        if (column !== undefined) flags.autoIncrement = true;
        k++;
      } else if (word === 'FOREIGN' && isPunct(tokens[k + 2], '(')) {
        const close = closingParen(tokens, k + 2);
        fkColumns = tokens
          .slice(k + 3, close)
          .filter((c) => c.kind !== 'punct')
          .map(nameOf);
        k = close + 1;
      } else if (word === 'REFERENCES') {
        let r = k + 1;
        // A schema-qualified parent (not valid SQLite, but harmless to read).
        if (isPunct(tokens[r + 1], '.')) r += 2;
        const columns = fkColumns ?? (column !== undefined ? [column] : []);
        const fk = { columns, referencedTable: nameOf(tokens[r]) };
        result.foreignKeys.push(pending === undefined ? fk : { name: pending, ...fk });
        pending = undefined;
        fkColumns = undefined;
        k = r + 1;
      } else {
        // NOT NULL, UNIQUE, DEFAULT, COLLATE, GENERATED ...: a pending name was theirs.
        if (['NOT', 'NULL', 'UNIQUE', 'DEFAULT', 'COLLATE', 'GENERATED', 'AS'].includes(word))
          pending = undefined;
        k++;
      }
    }
  }
  return result;
}

/**
 * The key parts and condition of a `CREATE INDEX` statement. `text` is each part as written, without
 * `COLLATE` / `ASC` / `DESC` and without parentheses around the whole part.
 * @internal
 */
export interface ParsedCreateIndex {
  parts: Array<{ text: string; descending: boolean }>;
  where?: string;
}

/**
 * Reads the key parts and the `WHERE` condition of a `CREATE INDEX` statement.
 *
 * @internal
 * @example
 * parseCreateIndex('create index i on t ((lower(a)) desc, b) where b > 0');
 * // { parts: [{ text: 'lower(a)', descending: true }, { text: 'b', descending: false }], where: 'b > 0' }
 */
export function parseCreateIndex(sql: string): ParsedCreateIndex {
  const tokens = tokenizeSqlite(sql);
  const on = findTopLevel(tokens, 0, (t) => isWord(t, 'ON'));
  const open = on < 0 ? -1 : findTopLevel(tokens, on, (t) => isPunct(t, '('));
  if (open < 0) return { parts: [] };
  const close = closingParen(tokens, open);
  const parts = splitItems(tokens, open + 1, close).map(([from, to]) => {
    let end = to;
    const descending = isWord(tokens[end - 1], 'DESC');
    if (descending || isWord(tokens[end - 1], 'ASC')) end--;
    if (end - from >= 2 && isWord(tokens[end - 2], 'COLLATE')) end -= 2;
    return { text: sliceUnwrapped(sql, tokens, from, end), descending };
  });
  const where = tokens[close + 1];
  if (!isWord(where, 'WHERE')) return { parts };
  return { parts, where: sql.slice(where!.end).trim().replace(/;\s*$/, '').trim() };
}

/**
 * The SELECT of a `CREATE VIEW` statement: everything after its `AS`.
 *
 * @internal
 * @example
 * parseCreateView('create view "as"(x) as select 1 as x'); // 'select 1 as x'
 */
export function parseCreateView(sql: string): string {
  const tokens = tokenizeSqlite(sql);
  const view = findTopLevel(tokens, 0, (t) => isWord(t, 'VIEW'));
  const as = findTopLevel(tokens, view + 1, (t) => isWord(t, 'AS'));
  return as < 0 ? '' : sql.slice(tokens[as]!.end).trim();
}

/**
 * When a trigger fires: the timing (SQLite's default is `before`) and its one event.
 *
 * @internal
 * @example
 * parseCreateTrigger('create trigger t after update of a on x begin select 1; end');
 * // { timing: 'after', events: ['update'] }
 */
export function parseCreateTrigger(sql: string): Pick<TriggerSnapshot, 'timing' | 'events'> {
  const tokens = tokenizeSqlite(sql);
  let k = findTopLevel(tokens, 0, (t) => isWord(t, 'TRIGGER')) + 1;
  if (isWord(tokens[k], 'IF')) k += 3;
  // The name; BEFORE, AFTER and INSTEAD are valid trigger names, so position decides.
  k += isPunct(tokens[k + 1], '.') ? 3 : 1;
  let timing: TriggerSnapshot['timing'] = 'before';
  if (isWord(tokens[k], 'BEFORE', 'AFTER')) {
    timing = tokens[k]!.text.toLowerCase() as 'before' | 'after';
    k++;
  } else if (isWord(tokens[k], 'INSTEAD')) {
    timing = 'instead of';
    k += 2;
  }
  const event = tokens[k]?.text.toLowerCase();
  const events: TriggerSnapshot['events'] =
    event === 'insert' || event === 'update' || event === 'delete' ? [event] : [];
  return { timing, events };
}

// ---------------------------------------------------------------- defaults

/**
 * A `dflt_value` in portable spelling: numbers canonical (`0.00` -> `0`), `TRUE`/`FALSE` and, on
 * boolean columns, `1`/`0` as `true`/`false`, `CURRENT_TIMESTAMP`; `NULL` is no default. Anything
 * else is SQLite's text, which is already the expression without the parentheses it was written in.
 *
 * @internal
 * @example
 * portableDefault('1', 'boolean'); // 'true'
 * portableDefault('-1.50', 'real'); // '-1.5'
 */
export function portableDefault(value: string | null, type: PortableType | null): string | undefined {
  if (value === null) return undefined;
  let v = value.trim();
  // `DEFAULT ((0))` is stored as `(0)`.
  for (;;) {
    const tokens = tokenizeSqlite(v);
    if (tokens.length < 2 || !isPunct(tokens[0], '(') || closingParen(tokens, 0) !== tokens.length - 1) break;
    v = v.slice(tokens[0]!.end, tokens[tokens.length - 1]!.start).trim();
  }
  const upper = v.toUpperCase();
  if (upper === 'NULL') return undefined;
  if (upper === 'CURRENT_TIMESTAMP') return 'CURRENT_TIMESTAMP';
  if (upper === 'TRUE' || upper === 'FALSE') return upper.toLowerCase();
  if (type === 'boolean' && (v === '1' || v === '0')) return v === '1' ? 'true' : 'false';
  return canonicalNumber(v) ?? v;
}

// ---------------------------------------------------------------- introspection

interface MasterRow {
  type: string;
  name: string;
  tbl_name: string;
  sql: string | null;
}

interface ColumnRow {
  cid: number;
  name: string;
  type: string;
  notnull: number;
  dflt_value: string | null;
  pk: number;
  hidden: number;
}

interface IndexListRow {
  name: string;
  unique: number;
  origin: string;
  partial: number;
}

interface IndexColumnRow {
  seqno: number;
  cid: number;
  name: string | null;
  desc: number;
  key: number;
}

interface ForeignKeyRow {
  id: number;
  seq: number;
  table: string;
  from: string;
  to: string | null;
  on_update: string;
  on_delete: string;
}

const byName = <T extends { name?: string }>(a: T, b: T): number => compare(a.name ?? '', b.name ?? '');

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Reads the `main` schema of a SQLite database into the portable model (see the README for what is
 * covered). Every table's `rowCount` is an exact `count(*)`; `sizeBytes` comes from the `dbstat`
 * virtual table when the SQLite build has it. Reads run in one read transaction (a savepoint when one
 * is already open), so the snapshot is consistent.
 *
 * @example
 * const snapshot = await introspectSqlite(conn, { tables: ['users'] });
 * console.log(snapshot.tables[0]?.columns.map((c) => `${c.name} ${c.type ?? c.nativeType}`));
 */
export async function introspectSqlite(
  conn: Connection,
  options: IntrospectOptions = {},
): Promise<SchemaSnapshot> {
  const db = asSqliteConnection(conn).handle;
  return db.transaction(() => new Reader(db).read(options))();
}

class Reader {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();
  #sizesAvailable: boolean | undefined;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  #all<R>(sql: string, ...params: unknown[]): R[] {
    let stmt = this.#statements.get(sql);
    if (!stmt) {
      stmt = this.#db.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt.all(...params) as R[];
  }

  read(options: IntrospectOptions): SchemaSnapshot {
    const serverVersion = this.#all<{ v: string }>('select sqlite_version() as v')[0]!.v;
    const master = this.#all<MasterRow>('select type, name, tbl_name, sql from main.sqlite_master');
    // Virtual tables and their shadow tables cannot be recreated by renderDdl; pragma_table_list tells them apart.
    const plain = new Map(
      this.#all<{ name: string; wr: number }>(
        "select name, wr from pragma_table_list where schema = 'main' and type = 'table'",
      ).map((r) => [r.name, r.wr === 1]),
    );
    const wanted = options.tables ? new Set(options.tables.map((t) => t.toLowerCase())) : undefined;
    const tableRows = master
      .filter((m) => m.type === 'table' && plain.has(m.name))
      .filter((m) => !m.name.toLowerCase().startsWith('sqlite_'))
      .filter((m) => options.includeHistoryTables || !m.name.toLowerCase().startsWith('cmpkg_'))
      .filter((m) => !wanted || wanted.has(m.name.toLowerCase()))
      .sort(byName);
    const indexSql = new Map(master.filter((m) => m.type === 'index').map((m) => [m.name, m.sql]));
    const tables = tableRows.map((m) => this.#table(m, plain.get(m.name) === true, indexSql, master));

    const views: ViewSnapshot[] = wanted
      ? []
      : master
          .filter((m) => m.type === 'view')
          .sort(byName)
          .map((m) => ({ name: m.name, definition: parseCreateView(m.sql ?? ''), createSql: m.sql ?? '' }));
    const owners = new Set([...tables, ...views].map((o) => o.name.toLowerCase()));
    const triggers: TriggerSnapshot[] = master
      .filter((m) => m.type === 'trigger' && owners.has(m.tbl_name.toLowerCase()))
      .sort(byName)
      .map((m) => ({
        name: m.name,
        table: m.tbl_name,
        ...parseCreateTrigger(m.sql ?? ''),
        createSql: m.sql ?? '',
      }));

    return {
      format: 'cmpkg-schema/1',
      engine: 'sqlite',
      serverVersion,
      schema: 'main',
      tables,
      views,
      triggers,
      routines: [],
    };
  }

  #table(m: MasterRow, withoutRowid: boolean, indexSql: Map<string, string | null>, master: MasterRow[]) {
    const parsed = parseCreateTable(m.sql ?? '');
    // hidden 1 marks a virtual table's hidden columns; generated columns (2, 3) are real columns.
    const rows = this.#all<ColumnRow>("select * from pragma_table_xinfo(?, 'main')", m.name)
      .filter((r) => r.hidden !== 1)
      .sort((a, b) => a.cid - b.cid);
    const pkRows = rows.filter((r) => r.pk > 0).sort((a, b) => a.pk - b.pk);
    const pk = pkRows[0];
    // INTEGER PRIMARY KEY makes the column the rowid (never NULL, 64-bit); a column-level
    // `PRIMARY KEY DESC` is SQLite's documented exception.
    const rowidAlias =
      !withoutRowid &&
      pkRows.length === 1 &&
      pk!.type.toUpperCase() === 'INTEGER' &&
      parsed.columns.get(pk!.name.toLowerCase())?.primaryKeyDesc !== true;

    const columns = rows.map((r): ColumnSnapshot => {
      const alias = rowidAlias && r.pk === 1;
      const autoIncrement = alias && parsed.columns.get(r.name.toLowerCase())?.autoIncrement === true;
      const type = autoIncrement ? 'bigint' : sqlitePortableType(r.type);
      const column: ColumnSnapshot = {
        name: r.name,
        type,
        nativeType: r.type,
        nullable: !alias && r.notnull === 0,
      };
      const dflt = autoIncrement ? undefined : portableDefault(r.dflt_value, type);
      if (dflt !== undefined) column.default = dflt;
      if (autoIncrement) column.autoIncrement = true;
      return column;
    });

    const size = this.#size(
      master
        .filter((o) => o.tbl_name === m.name && (o.type === 'table' || o.type === 'index'))
        .map((o) => o.name),
    );
    const table: TableSnapshot = {
      name: m.name,
      columns,
      ...(pkRows.length > 0
        ? {
            primaryKey: {
              ...(parsed.primaryKeyName !== undefined ? { name: parsed.primaryKeyName } : {}),
              columns: pkRows.map((r) => r.name),
            },
          }
        : {}),
      indexes: this.#indexes(m.name, indexSql),
      foreignKeys: this.#foreignKeys(m.name, parsed),
      checks: [...parsed.checks].sort((a, b) => byName(a, b) || compare(a.expression, b.expression)),
      rowCount: Number(
        this.#all<{ n: number }>(`select count(*) as n from main.${quoteSqliteIdentifier(m.name)}`)[0]!.n,
      ),
      rowCountExact: true,
      ...(size !== undefined ? { sizeBytes: size } : {}),
      createSql: [],
    };
    // The snapshot recreates itself: createSql is renderDdl of the snapshot, not the stored SQL.
    table.createSql = renderSqliteDdl({ kind: 'createTable', table });
    return table;
  }

  #indexes(table: string, indexSql: Map<string, string | null>): IndexDefinition[] {
    const indexes: IndexDefinition[] = [];
    for (const l of this.#all<IndexListRow>("select * from pragma_index_list(?, 'main')", table)) {
      // The primary key's own index is part of the primary key.
      if (l.origin === 'pk') continue;
      const keys = this.#all<IndexColumnRow>("select * from pragma_index_xinfo(?, 'main')", l.name)
        .filter((c) => c.key === 1)
        .sort((a, b) => a.seqno - b.seqno);
      const parsed: ParsedCreateIndex =
        l.origin === 'c' ? parseCreateIndex(indexSql.get(l.name) ?? '') : { parts: [] };
      const parts = keys.map((c, i): IndexPart => {
        // cid -2 is an expression (only in the CREATE sql); -1 is the rowid itself.
        const part: IndexPart =
          c.cid === -2 ? { expression: parsed.parts[i]?.text ?? '' } : { column: c.name ?? 'rowid' };
        if (c.desc === 1) part.descending = true;
        return part;
      });
      // An unnamed UNIQUE constraint gets SQLite's sqlite_autoindex_<table>_<n>, which depends on
      // declaration order; the snapshot names it the way PostgreSQL would.
      const name = l.origin === 'u' ? `${table}_${keys.map((c) => c.name).join('_')}_key` : l.name;
      const index: IndexDefinition = { name, unique: l.unique === 1, parts };
      if (l.partial === 1 && parsed.where !== undefined) index.where = parsed.where;
      indexes.push(index);
    }
    return indexes.sort(byName);
  }

  #foreignKeys(table: string, parsed: ParsedCreateTable): ForeignKeyDefinition[] {
    const groups = new Map<number, ForeignKeyRow[]>();
    for (const r of this.#all<ForeignKeyRow>("select * from pragma_foreign_key_list(?, 'main')", table)) {
      groups.set(r.id, [...(groups.get(r.id) ?? []), r]);
    }
    // SQLite numbers foreign keys from the last one written: descending id is declaration order.
    const ordered = [...groups.entries()]
      .sort((a, b) => b[0] - a[0])
      .map(([, rows]) => rows.sort((a, b) => a.seq - b.seq));
    const names = matchForeignKeyNames(
      ordered.map((rows) => ({ columns: rows.map((r) => r.from), referencedTable: rows[0]!.table })),
      parsed.foreignKeys,
    );
    const fks = ordered.map((rows, i): ForeignKeyDefinition => {
      const first = rows[0]!;
      // `REFERENCES parent` without columns means the parent's primary key; when that does not fit
      // (SQLite reports the mismatch only when the key is used), the list stays empty, as written.
      let referencedColumns = rows.map((r) => r.to ?? '');
      if (rows.some((r) => r.to === null)) {
        const parentKey = this.#all<ColumnRow>("select * from pragma_table_info(?, 'main')", first.table)
          .filter((r) => r.pk > 0)
          .sort((a, b) => a.pk - b.pk)
          .map((r) => r.name);
        referencedColumns = parentKey.length === rows.length ? parentKey : [];
      }
      const name = names[i];
      return {
        ...(name !== undefined ? { name } : {}),
        columns: rows.map((r) => r.from),
        referencedTable: first.table,
        referencedColumns,
        onDelete: first.on_delete.toLowerCase() as ForeignKeyAction,
        onUpdate: first.on_update.toLowerCase() as ForeignKeyAction,
      };
    });
    return fks.sort(
      (a, b) =>
        byName(a, b) ||
        compare(`${a.columns.join(',')}>${a.referencedTable}`, `${b.columns.join(',')}>${b.referencedTable}`),
    );
  }

  /** Bytes of a table and its indexes from dbstat, or undefined where this build has no dbstat. */
  #size(names: string[]): number | undefined {
    if (this.#sizesAvailable === false) return undefined;
    try {
      let bytes = 0;
      for (const name of names) {
        bytes +=
          this.#all<{ b: number | null }>(
            "select sum(pgsize) as b from dbstat('main') where name = ?",
            name,
          )[0]?.b ?? 0;
      }
      this.#sizesAvailable = true;
      return bytes;
    } catch {
      // No dbstat in this build, or a user table called dbstat hides it.
      this.#sizesAvailable = false;
      return undefined;
    }
  }
}

/**
 * The `CONSTRAINT` name of each foreign key the pragma reported (in declaration order), from those
 * parsed out of the CREATE statement: by position when both lists agree, otherwise by columns and
 * parent table.
 */
function matchForeignKeyNames(
  reported: Array<{ columns: string[]; referencedTable: string }>,
  parsed: ParsedCreateTable['foreignKeys'],
): Array<string | undefined> {
  const key = (fk: { columns: string[]; referencedTable: string }) =>
    `${fk.columns.join(',')}>${fk.referencedTable}`.toLowerCase();
  if (reported.length === parsed.length && reported.every((fk, i) => key(fk) === key(parsed[i]!))) {
    return parsed.map((p) => p.name);
  }
  const unused = [...parsed];
  return reported.map((fk) => {
    const at = unused.findIndex((p) => key(p) === key(fk));
    return at < 0 ? undefined : unused.splice(at, 1)[0]!.name;
  });
}
