import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Engine, loadPlugin, Migrator } from '@cmpkg/core';
import { SqliteDialect } from '@cmpkg/dialect-sqlite';
import { type KeyPair, type PackResult, packPlugin, type RotationStatement } from '@cmpkg/packager';
import { createTransformRunner } from '@cmpkg/transform';

/**
 * Fixture plugins for the install suites, written as portable-migration-v1 files and packed with
 * the real `packPlugin`: plugin `kb` in versions 1.0.0 → 2.0.0 (schema, seed data, index, an ALTER,
 * a transform step, a migration that requires a backup), with data exported from a SQLite source
 * database, and plugin `auth` for `requires`.
 */

export const PLUGIN = 'kb';

interface StepSpec {
  id: string;
  name: string;
  type?: string;
  sql?: Record<string, string>;
  transform?: unknown;
  transactional?: boolean;
}

interface MigrationSpec {
  id: string;
  version: string;
  type: string;
  requiresBackup?: boolean;
  up: StepSpec[];
  down: StepSpec[];
}

const sql = (id: string, universal: string, extra: Record<string, string> = {}): StepSpec => ({
  id,
  name: id,
  sql: { universal, ...extra },
});

/** The `kb` migrations, each depending on the one before (so the run order is fixed). */
export const KB_MIGRATIONS: readonly MigrationSpec[] = [
  {
    id: '0001_base',
    version: '1.0.0',
    type: 'schema',
    up: [
      sql(
        'create',
        'CREATE TABLE kb_categories (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL);\n' +
          'CREATE TABLE kb_entries (id INTEGER PRIMARY KEY, category_id INTEGER, title VARCHAR(100) NOT NULL, body TEXT);',
      ),
    ],
    down: [sql('drop', 'DROP TABLE IF EXISTS kb_entries;\nDROP TABLE IF EXISTS kb_categories;')],
  },
  {
    id: '0002_seed',
    version: '1.0.0',
    type: 'data',
    up: [sql('seed', "INSERT INTO kb_categories (id, name) VALUES (1, 'general'), (2, 'howto')")],
    down: [sql('unseed', 'DELETE FROM kb_categories WHERE id IN (1, 2)')],
  },
  {
    id: '0003_tags',
    version: '1.1.0',
    type: 'schema',
    up: [sql('create', 'CREATE TABLE kb_tags (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)')],
    down: [sql('drop', 'DROP TABLE IF EXISTS kb_tags')],
  },
  {
    id: '0004_index',
    version: '1.1.0',
    type: 'index',
    up: [sql('create', 'CREATE INDEX kb_entries_title ON kb_entries (title)')],
    down: [
      sql('drop', 'DROP INDEX kb_entries_title', { mysql: 'DROP INDEX kb_entries_title ON kb_entries' }),
    ],
  },
  {
    id: '0005_summary',
    version: '1.2.0',
    type: 'schema',
    up: [sql('add', 'ALTER TABLE kb_entries ADD COLUMN summary VARCHAR(200)')],
    down: [sql('drop', 'ALTER TABLE kb_entries DROP COLUMN summary')],
  },
  {
    id: '0006_search',
    version: '1.2.0',
    type: 'data',
    up: [
      sql('create', 'CREATE TABLE kb_search (id INTEGER PRIMARY KEY, slug VARCHAR(120) NOT NULL)'),
      {
        id: 'fill',
        name: 'fill the search table',
        type: 'data',
        transform: {
          kind: 'convert',
          source: 'kb_entries',
          target: 'kb_search',
          mapping: [
            { source: 'id', target: 'id' },
            { source: 'title', target: 'slug', transform: { type: 'function', definition: 'lower' } },
          ],
        },
      },
    ],
    down: [sql('drop', 'DROP TABLE IF EXISTS kb_search')],
  },
  {
    id: '0007_archive',
    version: '2.0.0',
    type: 'schema',
    requiresBackup: true,
    up: [
      sql(
        'create',
        'CREATE TABLE kb_archive (id INTEGER PRIMARY KEY, entry_id INTEGER NOT NULL, note VARCHAR(20) NOT NULL)',
      ),
    ],
    down: [sql('drop', 'DROP TABLE IF EXISTS kb_archive')],
  },
];

/** The ids of the `kb` migrations up to `version`. */
export function kbIds(version: string): string[] {
  const order = ['1.0.0', '1.1.0', '1.2.0', '2.0.0'];
  const limit = order.indexOf(version);
  return KB_MIGRATIONS.filter((m) => order.indexOf(m.version) <= limit).map((m) => m.id);
}

function document(pluginId: string, m: MigrationSpec, previous: string | undefined): string {
  const step = (s: StepSpec) => ({ type: m.type, ...s });
  return `${JSON.stringify(
    {
      format: 'portable-migration-v1',
      migration: {
        id: m.id,
        pluginId,
        version: m.version,
        name: m.id,
        type: m.type,
        dependencies: previous ? [previous] : [],
        ...(m.requiresBackup ? { requiresBackup: true } : {}),
        createdAt: '2024-01-01T00:00:00.000Z',
        steps: { up: m.up.map(step), down: m.down.map(step) },
      },
    },
    null,
    2,
  )}\n`;
}

function vary(m: MigrationSpec, spec: PackageSpec): MigrationSpec {
  let out = m;
  if (m.id === spec.failAt)
    out = { ...out, up: [...out.up, sql('boom', 'INSERT INTO kb_no_such_table (id) VALUES (1)')] };
  if (m.id === spec.brokenDown) out = { ...out, down: [sql('broken', 'DROP TABLE kb_no_such_table')] };
  if (m.id === spec.brokenDownAfter)
    out = { ...out, down: [...out.down, sql('broken', 'DROP TABLE kb_no_such_table')] };
  if (m.id === spec.noDown) out = { ...out, down: [] };
  if (spec.loose) {
    const loose = (s: StepSpec): StepSpec => (s.sql ? { ...s, transactional: false } : s);
    out = { ...out, up: out.up.map(loose), down: out.down.map(loose) };
  }
  return out;
}

function writeMigrations(dir: string, pluginId: string, migrations: readonly MigrationSpec[]): void {
  let previous: string | undefined;
  for (const m of migrations) {
    writeFileSync(join(dir, `${m.id}.json`), document(pluginId, m, previous));
    previous = m.id;
  }
}

/** What a fixture package carries besides its migrations. */
export interface PackageSpec {
  version: string;
  key: KeyPair;
  pluginId?: string;
  /**
   * `good`: kb_categories (ids 1-3) and kb_entries (ids 1-2) exported from a SQLite database the
   * migrations built; `bad`: the same plus an entry whose NOT NULL title is NULL; none by default.
   */
  data?: 'good' | 'bad';
  /** Adds a failing second step (INSERT into a missing table) to this migration. */
  failAt?: string;
  /**
   * Marks every SQL step `transactional: false`: the install cannot run in one transaction and
   * compensates on every engine (as it always does on MySQL).
   */
  loose?: boolean;
  /** Replaces this migration's down step with one that fails (undoing an install then fails too). */
  brokenDown?: string;
  /** Adds a failing last step to this migration's down steps (a rollback of it then stops half-way). */
  brokenDownAfter?: string;
  /** Gives this migration no down steps (it cannot be rolled back). */
  noDown?: string;
  requires?: Record<string, string>;
  engines?: Engine[];
  rotation?: RotationStatement[];
}

/** A directory for fixture files and packages; `cleanup()` removes everything. */
export class FixtureFactory {
  readonly root = mkdtempSync(join(tmpdir(), 'cmpkg-install-'));
  #n = 0;

  dir(name: string): string {
    const dir = join(this.root, `${++this.#n}-${name}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }

  /** Writes the migration files of `spec` and packs them (and its data) with `packPlugin`. */
  async pack(spec: PackageSpec): Promise<PackResult> {
    const pluginId = spec.pluginId ?? PLUGIN;
    const work = this.dir(`${pluginId}-${spec.version}`);
    const migrationsDir = join(work, 'migrations');
    mkdirSync(migrationsDir);
    const migrations: MigrationSpec[] =
      pluginId === PLUGIN
        ? KB_MIGRATIONS.map((m) => vary(m, spec))
        : [
            {
              // A fixed version: the same migration (same checksum) in every package of the plugin.
              id: `${pluginId}_0001`,
              version: '1.0.0',
              type: 'schema',
              up: [
                sql('create', `CREATE TABLE ${pluginId}_users (id INTEGER PRIMARY KEY, name VARCHAR(40))`),
              ],
              down: [sql('drop', `DROP TABLE IF EXISTS ${pluginId}_users`)],
            },
          ];
    writeMigrations(migrationsDir, pluginId, migrations);
    const plugin = await loadPlugin({ dir: migrationsDir, id: pluginId, version: spec.version });
    const source = spec.data ? await this.#dataSource(work, spec) : undefined;
    try {
      return await packPlugin({
        plugin,
        key: spec.key,
        version: spec.version,
        outDir: join(work, 'dist'),
        createdAt: '2024-06-01T00:00:00.000Z',
        ...(source ? { data: { db: source, tables: ['kb_categories', 'kb_entries'] } } : {}),
        ...(spec.requires ? { requires: spec.requires } : {}),
        ...(spec.engines ? { engines: spec.engines } : {}),
        ...(spec.rotation ? { rotation: spec.rotation } : {}),
      });
    } finally {
      await source?.connection.close();
    }
  }

  /** A SQLite database holding the rows a package exports. */
  async #dataSource(work: string, spec: PackageSpec) {
    const dialect = new SqliteDialect();
    const connection = await dialect.connect(`sqlite:${join(work, 'source.db')}`);
    if (spec.data === 'bad') {
      // Built by hand: the source must be able to hold the row the target refuses (a NULL title).
      await connection.execute(
        'CREATE TABLE kb_categories (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL)',
      );
      await connection.execute(
        'CREATE TABLE kb_entries (id INTEGER PRIMARY KEY, category_id INTEGER, title VARCHAR(100), body TEXT)',
      );
      await connection.execute("INSERT INTO kb_categories VALUES (1, 'general'), (2, 'howto'), (3, 'extra')");
      await connection.execute(
        "INSERT INTO kb_entries VALUES (1, 1, 'Hello World', 'body one'), (2, 3, 'Second Entry', NULL), (7, 1, NULL, 'no title')",
      );
      return { dialect, connection };
    }
    // The schema of the package's version, from the unmodified migrations.
    const clean = join(work, 'source-migrations');
    mkdirSync(clean);
    writeMigrations(clean, PLUGIN, KB_MIGRATIONS);
    const run = await new Migrator({
      dialect,
      connection,
      plugin: await loadPlugin({ dir: clean, id: PLUGIN }),
      transformRunner: createTransformRunner(),
      user: 'fixture',
    }).up({ to: spec.version });
    if (run.error) throw run.error;
    await connection.execute("INSERT INTO kb_categories (id, name) VALUES (3, 'extra')");
    await connection.execute(
      "INSERT INTO kb_entries (id, category_id, title, body) VALUES (1, 1, 'Hello World', 'body one'), (2, 3, 'Second Entry', NULL)",
    );
    return { dialect, connection };
  }
}
