import type {
  CheckDefinition,
  ColumnSnapshot,
  ForeignKeyAction,
  ForeignKeyDefinition,
  IndexDefinition,
  IndexPart,
  IntrospectOptions,
  PortableType,
  RoutineSnapshot,
  SchemaChange,
  SchemaSnapshot,
  TableSnapshot,
  TriggerSnapshot,
  ViewSnapshot,
} from '@cmpkg/core';
import { canonicalNumber, parsePortableType } from '@cmpkg/core';
import { portableTypeOf, quotePostgresIdentifier, VECTOR_COMMENT_PREFIX } from './postgres-adapter.js';
import type { PostgresConnection } from './postgres-connection.js';

type Row = Record<string, unknown>;

const FK_ACTIONS: Readonly<Record<string, ForeignKeyAction>> = Object.freeze({
  a: 'no action',
  r: 'restrict',
  c: 'cascade',
  n: 'set null',
  d: 'set default',
});

const VECTOR_MARKER = new RegExp(
  `^${VECTOR_COMMENT_PREFIX.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\((\\d+)\\)$`,
);

/**
 * Reads the connection's current schema (`current_schema()`, i.e. `?schema=` or the server's default)
 * into the portable model, with one query per kind of object for the whole schema: tables, columns,
 * constraints (primary keys, foreign keys, checks), indexes, views, triggers and routines, plus one
 * `count(*)` query when exact counts are wanted or statistics are missing. `render` turns each table
 * back into its `createSql`.
 *
 * @example
 * const snapshot = await introspectPostgres(conn, { exactCounts: true }, (c) => renderPostgresDdl(c));
 */
export async function introspectPostgres(
  conn: PostgresConnection,
  options: IntrospectOptions,
  render: (change: SchemaChange) => string[],
): Promise<SchemaSnapshot> {
  const q = async (sql: string, params: unknown[] = []): Promise<Row[]> =>
    (await conn.execute(sql, params)).rows;
  const [info] = await q("select current_schema() as schema, current_setting('server_version') as version");
  // current_schema() is null when the search_path names no existing schema; report the one asked for.
  const schema = String(info?.schema ?? conn.url.schema ?? 'public');
  const filter = options.tables;
  const tableRows = await q(
    // A partitioned table stores nothing itself: its size is that of its partitions (pg_partition_tree
    // lists the table, its partitions and theirs).
    `select c.oid::int8 as oid, c.relname as name, c.reltuples::float8 as reltuples,
            case when c.relkind = 'p'
                 then (select coalesce(sum(pg_total_relation_size(p.relid)), 0) from pg_partition_tree(c.oid) p)
                 else pg_total_relation_size(c.oid) end::int8 as size
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relkind in ('r', 'p') and not c.relispartition
        and ($2::text[] is null or c.relname = any($2::text[]))
        and ($3 or c.relname not like 'cmpkg\\_%')`,
    [schema, filter ?? null, options.includeHistoryTables === true],
  );
  const oids = tableRows.map((r) => Number(r.oid));

  // One after another: the connection is a single session (pg deprecates queueing on one client).
  const columnRows = oids.length === 0 ? [] : await columnsOf(q, oids);
  const constraintRows = oids.length === 0 ? [] : await constraintsOf(q, oids);
  const indexRows = oids.length === 0 ? [] : await indexesOf(q, oids);

  const columnsByTable = groupBy(columnRows, (r) => Number(r.table_oid));
  const constraintsByTable = groupBy(constraintRows, (r) => Number(r.table_oid));
  const indexesByTable = groupBy(indexRows, (r) => Number(r.table_oid));

  const counts = await countRows(
    q,
    tableRows
      .filter((r) => options.exactCounts === true || Number(r.reltuples) < 0)
      .map((r) => String(r.name)),
  );

  const tables: TableSnapshot[] = tableRows.map((row) => {
    const oid = Number(row.oid);
    const name = String(row.name);
    const columns = (columnsByTable.get(oid) ?? []).map(toColumn);
    const varchars = columns.filter((c) => c.nativeType.startsWith('character varying')).map((c) => c.name);
    const tidy = (expression: string) => dropVarcharCasts(expression, varchars);
    const constraints = constraintsByTable.get(oid) ?? [];
    const pk = constraints.find((c) => c.type === 'p');
    const foreignKeys: ForeignKeyDefinition[] = constraints
      .filter((c) => c.type === 'f')
      .map((c) => ({
        name: String(c.name),
        columns: stringArray(c.columns),
        // Another schema's table as `schema.table`; so is one whose name has a dot, which renderDdl
        // would otherwise split.
        referencedTable:
          c.ref_schema === schema && !String(c.ref_table).includes('.')
            ? String(c.ref_table)
            : `${String(c.ref_schema)}.${String(c.ref_table)}`,
        referencedColumns: stringArray(c.ref_columns),
        onDelete: FK_ACTIONS[String(c.on_delete)] ?? 'no action',
        onUpdate: FK_ACTIONS[String(c.on_update)] ?? 'no action',
      }))
      .sort(byName);
    const checks: CheckDefinition[] = constraints
      .filter((c) => c.type === 'c')
      .map((c) => ({ name: String(c.name), expression: tidy(checkExpression(String(c.definition))) }))
      .sort(byName);
    const indexes = (indexesByTable.get(oid) ?? []).map((r) => toIndex(r, tidy)).sort(byName);
    const exact = counts.get(name);
    const table: TableSnapshot = {
      name,
      columns,
      ...(pk !== undefined
        ? { primaryKey: { name: String(pk.name), columns: stringArray(pk.columns) } }
        : {}),
      indexes,
      foreignKeys,
      checks,
      rowCount: exact ?? Math.round(Number(row.reltuples)),
      rowCountExact: exact !== undefined,
      sizeBytes: Number(row.size),
      createSql: [],
    };
    table.createSql = render({ kind: 'createTable', table });
    return table;
  });
  tables.sort(byName);
  const tableNames = new Set(tables.map((t) => t.name));

  const triggers = (await triggersOf(q, schema))
    .filter((t) => (filter !== undefined ? tableNames.has(t.table) : !isHidden(t.table, options)))
    .sort(byName);
  const views = filter !== undefined ? [] : await viewsOf(q, schema);
  const routines = filter !== undefined ? [] : await routinesOf(q, schema);

  return {
    format: 'cmpkg-schema/1',
    engine: 'postgresql',
    serverVersion: String(info?.version ?? ''),
    schema,
    tables,
    views,
    triggers,
    routines,
  };
}

type Query = (sql: string, params?: unknown[]) => Promise<Row[]>;

function columnsOf(q: Query, oids: number[]): Promise<Row[]> {
  return q(
    `select a.attrelid::int8 as table_oid, a.attname as name, format_type(a.atttypid, a.atttypmod) as native_type,
            a.attnotnull as not_null, a.attidentity::text as identity, a.attgenerated::text as generated,
            pg_get_expr(d.adbin, d.adrelid) as default_expr, col_description(a.attrelid, a.attnum) as comment
       from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where a.attrelid = any($1::oid[]) and a.attnum > 0 and not a.attisdropped
      order by a.attrelid, a.attnum`,
    [oids],
  );
}

function constraintsOf(q: Query, oids: number[]): Promise<Row[]> {
  // NOT NULL constraints (contype 'n' from PostgreSQL 18) are columns' nullability, not checks. A
  // foreign key into a partitioned table has one more row per partition (conparentid set): the
  // server's bookkeeping, not foreign keys of their own.
  return q(
    `select c.conrelid::int8 as table_oid, c.conname as name, c.contype::text as type,
            array(select a.attname::text from unnest(c.conkey) with ordinality k(attnum, ord)
                    join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum order by k.ord) as columns,
            rc.relname as ref_table, rn.nspname as ref_schema,
            array(select a.attname::text from unnest(c.confkey) with ordinality k(attnum, ord)
                    join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.attnum order by k.ord) as ref_columns,
            c.confdeltype::text as on_delete, c.confupdtype::text as on_update,
            pg_get_constraintdef(c.oid, true) as definition
       from pg_constraint c
       left join pg_class rc on rc.oid = c.confrelid
       left join pg_namespace rn on rn.oid = rc.relnamespace
      where c.conrelid = any($1::oid[]) and c.contype in ('p', 'f', 'c') and c.conparentid = 0`,
    [oids],
  );
}

function indexesOf(q: Query, oids: number[]): Promise<Row[]> {
  // The primary key's index is the primary key; an exclusion constraint's index is not a plain index.
  return q(
    `select i.indrelid::int8 as table_oid, ic.relname as name, i.indisunique as is_unique, am.amname as method,
            pg_get_expr(i.indpred, i.indrelid, true) as predicate,
            (select json_agg(json_build_object(
                      'column', a.attname,
                      'expression', case when i.indkey[k - 1] = 0 then pg_get_indexdef(i.indexrelid, k, true) end,
                      'descending', (i.indoption[k - 1] & 1) = 1) order by k)
               from generate_series(1, i.indnkeyatts::int) k
               left join pg_attribute a
                 on a.attrelid = i.indrelid and a.attnum = i.indkey[k - 1] and i.indkey[k - 1] <> 0) as parts
       from pg_index i
       join pg_class ic on ic.oid = i.indexrelid
       join pg_am am on am.oid = ic.relam
      where i.indrelid = any($1::oid[]) and not i.indisprimary
        and not exists (select 1 from pg_constraint x where x.conindid = i.indexrelid and x.contype = 'x')`,
    [oids],
  );
}

async function countRows(q: Query, tables: string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  if (tables.length === 0) return counts;
  // One round trip for every table that needs counting.
  const sql = tables
    .map((t, i) => `select $${i + 1}::text as name, count(*)::int8 as n from ${quotePostgresIdentifier(t)}`)
    .join(' union all ');
  for (const row of await q(sql, tables)) counts.set(String(row.name), Number(row.n));
  return counts;
}

async function viewsOf(q: Query, schema: string): Promise<ViewSnapshot[]> {
  const rows = await q('select viewname as name, definition from pg_views where schemaname = $1', [schema]);
  return rows
    .map((r) => {
      const definition = String(r.definition ?? '')
        .trim()
        .replace(/;$/, '');
      return {
        name: String(r.name),
        definition,
        createSql: `CREATE VIEW ${quotePostgresIdentifier(String(r.name))} AS ${definition}`,
      };
    })
    .sort(byName);
}

async function triggersOf(q: Query, schema: string): Promise<TriggerSnapshot[]> {
  // Partitions are not in the snapshot: a trigger of a partitioned table is listed once, not with the
  // clones the server keeps on each partition.
  const rows = await q(
    `select t.tgname as name, c.relname as table_name, t.tgtype::int as type,
            pg_get_triggerdef(t.oid, true) as definition
       from pg_trigger t
       join pg_class c on c.oid = t.tgrelid
       join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and not t.tgisinternal and not c.relispartition`,
    [schema],
  );
  return rows.map((r) => ({
    name: String(r.name),
    table: String(r.table_name),
    ...triggerKind(Number(r.type)),
    createSql: String(r.definition),
  }));
}

async function routinesOf(q: Query, schema: string): Promise<RoutineSnapshot[]> {
  // Functions an extension installed belong to the extension, not to the schema's migrations.
  const rows = await q(
    `select p.proname as name, p.prokind::text as kind, l.lanname as language,
            pg_get_function_identity_arguments(p.oid) as args, pg_get_functiondef(p.oid) as definition
       from pg_proc p
       join pg_namespace n on n.oid = p.pronamespace
       join pg_language l on l.oid = p.prolang
      where n.nspname = $1 and p.prokind in ('f', 'p')
        and not exists (select 1 from pg_depend d
                         where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')`,
    [schema],
  );
  return rows
    .sort((a, b) => compare(String(a.name), String(b.name)) || compare(String(a.args), String(b.args)))
    .map((r) => ({
      name: String(r.name),
      kind: r.kind === 'p' ? ('procedure' as const) : ('function' as const),
      language: String(r.language),
      createSql: String(r.definition).trim(),
    }));
}

// ------------------------------------------------------------------------------------------------ pure parts

/**
 * A column row of the catalog query in the portable model: the portable type (or `null`), identity and
 * serial columns as `autoIncrement` without a default, a `REAL[]` with the `cmpkg:vector(n)` comment as
 * `vector(n)`, and generated columns as a `nativeType` that recreates them.
 *
 * @example
 * toColumn({ name: 'id', native_type: 'bigint', not_null: true, identity: 'd', generated: '', default_expr: null, comment: null });
 * // { name: 'id', type: 'bigint', nativeType: 'bigint', nullable: false, autoIncrement: true }
 */
export function toColumn(row: Row): ColumnSnapshot {
  const name = String(row.name);
  let nativeType = String(row.native_type);
  let type: PortableType | null = portableTypeOf(nativeType);
  let comment = typeof row.comment === 'string' && row.comment !== '' ? row.comment : undefined;
  const marker = comment !== undefined ? VECTOR_MARKER.exec(comment) : null;
  if (marker !== null && nativeType === 'real[]') {
    type = `vector(${Number(marker[1])})`;
    comment = undefined;
  }
  let expression = typeof row.default_expr === 'string' ? row.default_expr : undefined;
  let autoIncrement = typeof row.identity === 'string' && row.identity !== '';
  if (typeof row.generated === 'string' && row.generated !== '' && expression !== undefined) {
    // No portable equivalent: keep it recreatable through nativeType.
    nativeType = `${nativeType} GENERATED ALWAYS AS (${expression}) STORED`;
    type = null;
    expression = undefined;
  }
  if (
    !autoIncrement &&
    expression !== undefined &&
    /^nextval\('(?:[^']|'')+'::regclass\)$/.test(expression) &&
    type !== null &&
    ['smallint', 'integer', 'bigint'].includes(parsePortableType(type).kind)
  ) {
    // serial / bigserial
    autoIncrement = true;
    expression = undefined;
  }
  const portable = expression !== undefined && !autoIncrement ? portableDefault(expression) : undefined;
  return {
    name,
    type,
    nativeType,
    nullable: row.not_null !== true,
    ...(portable !== undefined ? { default: portable } : {}),
    ...(autoIncrement ? { autoIncrement: true } : {}),
    ...(comment !== undefined ? { comment } : {}),
  };
}

const NUMERIC_CASTS = /^(smallint|integer|bigint|numeric(\(\d+,\d+\))?|real|double precision)$/;

/**
 * A column default as PostgreSQL reports it (`pg_get_expr`) in portable spelling: casts of literals
 * dropped (`'draft'::character varying` -> `'draft'`), numbers canonical (`0.00` -> `0`, `'-1'::integer`
 * -> `-1`), `now()` and `CURRENT_TIMESTAMP` -> `CURRENT_TIMESTAMP`; `NULL` -> undefined (no default);
 * anything else unchanged.
 *
 * @example
 * portableDefault("'untitled'::character varying"); // "'untitled'"
 * portableDefault('now()'); // 'CURRENT_TIMESTAMP'
 */
export function portableDefault(expression: string): string | undefined {
  const e = expression.trim();
  if (/^null(::[a-z][a-z0-9_ ]*(\([\d,]+\))?(\[\])?)?$/i.test(e)) return undefined;
  if (/^(now\(\)|current_timestamp)$/i.test(e)) return 'CURRENT_TIMESTAMP';
  const cast = /^('(?:[^']|'')*')::([a-z][a-z0-9_ ]*(?:\(\d+(?:,\d+)?\))?(?:\[\])?)$/i.exec(e);
  if (cast) {
    const literal = cast[1]!;
    const inner = literal.slice(1, -1);
    if (NUMERIC_CASTS.test(cast[2]!.toLowerCase()) && /^-?\d+(\.\d+)?$/.test(inner))
      return canonicalNumber(inner);
    return literal;
  }
  const number = /^\(?(-?\d+(?:\.\d+)?)\)?$/.exec(e);
  if (number) return canonicalNumber(number[1]!);
  return e;
}

/**
 * The condition of a check constraint from `pg_get_constraintdef`: `CHECK (price >= 0::numeric)` ->
 * `price >= 0::numeric`.
 *
 * @example
 * checkExpression('CHECK (price >= 0::numeric) NOT VALID'); // 'price >= 0::numeric'
 */
export function checkExpression(definition: string): string {
  const m = /^CHECK \(([\s\S]*)\)(?:\s+NO INHERIT)?(?:\s+NOT VALID)?$/i.exec(definition.trim());
  return m ? m[1]!.trim() : definition.trim();
}

/**
 * Drops the `::text` casts PostgreSQL adds to varchar columns in stored expressions
 * (`lower(email::text)` -> `lower(email)`): varchar converts to text implicitly, so the expression means
 * the same, reads like what was written, and recreates the same index or check.
 *
 * @example
 * dropVarcharCasts('lower(email::text)', ['email']); // 'lower(email)'
 */
export function dropVarcharCasts(expression: string, varcharColumns: string[]): string {
  let out = expression;
  for (const column of varcharColumns) {
    const quoted = quotePostgresIdentifier(column).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const bare = column.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const pattern = new RegExp(`(^|[^\\w$".])(${quoted}|${bare})::text(?![\\w$\\[])`, 'g');
    out = out.replace(pattern, '$1$2');
  }
  return out;
}

function toIndex(row: Row, tidy: (expression: string) => string): IndexDefinition {
  const parts = (Array.isArray(row.parts) ? row.parts : []).map((p: Row): IndexPart => {
    const part: IndexPart =
      typeof p.column === 'string' ? { column: p.column } : { expression: tidy(String(p.expression)) };
    if (p.descending === true) part.descending = true;
    return part;
  });
  const index: IndexDefinition = { name: String(row.name), unique: row.is_unique === true, parts };
  if (typeof row.predicate === 'string' && row.predicate !== '') index.where = tidy(row.predicate);
  if (typeof row.method === 'string' && row.method !== 'btree') index.method = row.method;
  return index;
}

/**
 * Timing and events of a trigger from `pg_trigger.tgtype` (bit 1 BEFORE, bit 6 INSTEAD OF; bits 2-5
 * INSERT, DELETE, UPDATE, TRUNCATE).
 *
 * @example
 * triggerKind(23); // { timing: 'before', events: ['insert', 'update'] }
 */
export function triggerKind(tgtype: number): Pick<TriggerSnapshot, 'timing' | 'events'> {
  const timing = tgtype & 0x40 ? 'instead of' : tgtype & 0x02 ? 'before' : 'after';
  const events: TriggerSnapshot['events'] = [];
  if (tgtype & 0x04) events.push('insert');
  if (tgtype & 0x10) events.push('update');
  if (tgtype & 0x08) events.push('delete');
  if (tgtype & 0x20) events.push('truncate');
  return { timing, events };
}

function isHidden(table: string, options: IntrospectOptions): boolean {
  return options.includeHistoryTables !== true && table.startsWith('cmpkg_');
}

function stringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

function groupBy(rows: Row[], key: (row: Row) => number): Map<number, Row[]> {
  const map = new Map<number, Row[]>();
  for (const row of rows) {
    const k = key(row);
    const list = map.get(k);
    if (list) list.push(row);
    else map.set(k, [row]);
  }
  return map;
}

/** Code-unit order, the same on every engine and locale (unlike the server's collation). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byName<T extends { name?: string }>(a: T, b: T): number {
  return compare(a.name ?? '', b.name ?? '');
}
