import type { IndexDefinition, SchemaSnapshot, TableSnapshot } from '@cmpkg/core';
import { UsageError } from '@cmpkg/core';
import { type CommandContext, loadSettings, openDatabase } from '../context.js';
import { dialectFor } from '../dialects.js';
import { ExitCode } from '../exit-codes.js';
import { type Colors, formatTable, plural } from '../output.js';

/**
 * Options of `cmpkg introspect`.
 *
 * @example
 * const opts: IntrospectCommandOptions = { table: ['users'], sql: true };
 */
export interface IntrospectCommandOptions {
  /** Only these tables (repeatable). */
  table?: string[];
  /** Count rows exactly instead of reading the engine's statistics. */
  exactCounts?: boolean;
  /** Include cmpkg's own history tables. */
  includeHistory?: boolean;
  /** Print only the CREATE statements. */
  sql?: boolean;
}

/**
 * `cmpkg introspect`: the database's schema in cmpkg's portable model: tables with columns
 * (portable and native types), keys, indexes, foreign keys, checks, sizes and row counts; views,
 * triggers and routines. `--json` prints the `SchemaSnapshot`; `--sql` the CREATE statements.
 * Opens the database read-only: it never creates or changes anything.
 *
 * @example
 * await runIntrospect(ctx, { table: ['entries'] }); // 0
 */
export async function runIntrospect(ctx: CommandContext, opts: IntrospectCommandOptions): Promise<number> {
  const settings = await loadSettings(ctx);
  const dialect = await dialectFor(settings.database);
  const db = await openDatabase(dialect, settings, { readOnly: true });
  let snapshot: SchemaSnapshot;
  try {
    snapshot = await dialect.introspect(db.connection, {
      ...(opts.table?.length ? { tables: opts.table } : {}),
      ...(opts.exactCounts ? { exactCounts: true } : {}),
      ...(opts.includeHistory ? { includeHistoryTables: true } : {}),
    });
  } finally {
    await db.connection.close().catch(() => undefined);
  }
  const missing = (opts.table ?? []).filter((t) => !snapshot.tables.some((s) => s.name === t));
  if (missing.length > 0) {
    throw new UsageError(
      `no table ${missing.map((t) => `"${t}"`).join(', ')} in ${db.connection.displayUrl}` +
        (snapshot.tables.length === 0 && (opts.table?.length ?? 0) === missing.length
          ? ''
          : ` (found: ${snapshot.tables.map((t) => t.name).join(', ') || 'none'})`),
      { details: { tables: missing } },
    );
  }
  ctx.out.emitJson(snapshot);
  if (opts.sql) printSql(ctx, snapshot);
  else printSnapshot(ctx, snapshot, db.connection.displayUrl);
  return ExitCode.Ok;
}

function printSql({ out }: CommandContext, s: SchemaSnapshot): void {
  const statements = [
    ...s.tables.flatMap((t) => t.createSql),
    ...s.views.map((v) => v.createSql),
    ...s.routines.map((r) => r.createSql),
    ...s.triggers.map((t) => t.createSql),
  ];
  // Bodies of routines and triggers carry their own semicolons; a blank line keeps them apart.
  out.lines(statements.map((sql) => `${sql.trimEnd().replace(/;$/, '')};\n`));
}

function printSnapshot({ out }: CommandContext, s: SchemaSnapshot, displayUrl: string): void {
  const { c } = out;
  out.line(
    `${c.bold(displayUrl)} ${c.dim(`${s.engine} ${s.serverVersion}, schema ${s.schema}`)}: ` +
      [
        plural(s.tables.length, 'table'),
        plural(s.views.length, 'view'),
        plural(s.triggers.length, 'trigger'),
        plural(s.routines.length, 'routine'),
      ].join(', '),
  );
  for (const t of s.tables) printTable(c, out, t);
  if (s.views.length > 0) {
    out.line();
    out.line(c.bold('views'));
    out.lines(
      formatTable(
        s.views.map((v) => [v.name, oneLine(v.definition)]),
        { indent: 2 },
      ),
    );
  }
  if (s.triggers.length > 0) {
    out.line();
    out.line(c.bold('triggers'));
    out.lines(
      formatTable(
        s.triggers.map((t) => [t.name, `${t.timing} ${t.events.join(' or ')} on ${t.table}`]),
        { indent: 2 },
      ),
    );
  }
  if (s.routines.length > 0) {
    out.line();
    out.line(c.bold('routines'));
    out.lines(
      formatTable(
        s.routines.map((r) => [r.name, r.kind, r.language ?? '']),
        { indent: 2 },
      ),
    );
  }
}

function printTable(c: Colors, out: CommandContext['out'], t: TableSnapshot): void {
  out.line();
  const rows = `${t.rowCountExact ? '' : '~'}${t.rowCount.toLocaleString('en-US')} rows`;
  const size = t.sizeBytes !== undefined ? `, ${formatBytes(t.sizeBytes)}` : '';
  out.line(`${c.bold(t.name)} ${c.dim(`(${rows}${size})`)}`);
  const pk = new Set(t.primaryKey?.columns ?? []);
  out.lines(
    formatTable(
      t.columns.map((col) => [
        col.name,
        col.type ?? c.yellow(col.nativeType),
        c.dim(col.type !== null && col.nativeType.toLowerCase() !== col.type ? col.nativeType : ''),
        col.nullable ? 'null' : 'not null',
        [
          pk.has(col.name) ? 'primary key' : '',
          col.autoIncrement ? 'auto-increment' : '',
          col.default !== undefined && col.default !== null ? `default ${col.default}` : '',
        ]
          .filter(Boolean)
          .join(', '),
      ]),
      { header: ['COLUMN', 'TYPE', 'NATIVE', 'NULL', ''], headerStyle: c.dim, indent: 2 },
    ),
  );
  for (const idx of t.indexes) out.line(`  ${c.dim('index')} ${indexText(idx)}`);
  for (const fk of t.foreignKeys) {
    out.line(
      `  ${c.dim('foreign key')} ${fk.name ? `${fk.name} ` : ''}(${fk.columns.join(', ')}) -> ` +
        `${fk.referencedTable}(${fk.referencedColumns.join(', ')}) on delete ${fk.onDelete}, on update ${fk.onUpdate}`,
    );
  }
  for (const ck of t.checks)
    out.line(`  ${c.dim('check')} ${ck.name ? `${ck.name} ` : ''}(${ck.expression})`);
}

function indexText(idx: IndexDefinition): string {
  const parts = idx.parts
    .map((p) => `${p.column ?? p.expression ?? ''}${p.descending ? ' desc' : ''}`)
    .join(', ');
  return [
    idx.name,
    idx.unique ? 'unique' : '',
    idx.method ? `using ${idx.method}` : '',
    `(${parts})`,
    idx.where ? `where ${idx.where}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 100 ? `${flat.slice(0, 97)}...` : flat;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}
