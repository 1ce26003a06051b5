import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CliResult, type RunningCli, repoRoot, runCli, startCli } from './cli.js';

/** The sample plugin shipped in examples/, which the demo and the docs use too. */
export const samplePluginDir = join(repoRoot, 'examples', 'sample-plugin');
/** Every migration of the sample plugin, in the order `cmpkg up` applies them. */
export const sampleMigrationIds = [
  '0001_create_entries',
  '0002_add_tags',
  '0003_seed_categories',
  '0004_entry_slugs',
  '0005_entry_revisions',
] as const;
/** The sample plugin's versions and the migrations each one adds (1.0.0 has three, 1.1.0 and 2.0.0 one each). */
export const sampleVersions = {
  '1.0.0': ['0001_create_entries', '0002_add_tags', '0003_seed_categories'],
  '1.1.0': ['0004_entry_slugs'],
  '2.0.0': ['0005_entry_revisions'],
} as const;

const created: string[] = [];

/** A throw-away project: a config, a migrations directory, and a SQLite file (maybe not yet created). */
export interface Project {
  dir: string;
  migrationsDir: string;
  /** Absolute path of the database file. */
  dbFile: string;
  /** What the CLI gets as `--db`: relative to the project dir, as a user would write it. */
  dbUrl: string;
  /** Global options that point the CLI at this project; appended after the command's own. */
  globals: string[];
  /** Runs `cmpkg <args> <globals>` in the project dir. */
  run(args: readonly string[]): Promise<CliResult>;
  start(args: readonly string[]): RunningCli;
  /** Writes migrations/<name>. */
  write(name: string, content: string): string;
  read(name: string): string;
  remove(name: string): void;
}

function makeProject(dir: string, migrationsDir: string, dbUrl = 'sqlite:./test.db'): Project {
  const dbFile = join(dir, 'test.db');
  const globals = ['--config', 'cmpkg.config.json', '--db', dbUrl];
  return {
    dir,
    migrationsDir,
    dbFile,
    dbUrl,
    globals,
    run: (args) => runCli([...args, ...globals], { cwd: dir }),
    start: (args) => startCli([...args, ...globals], { cwd: dir }),
    write(name, content) {
      const file = join(migrationsDir, name);
      writeFileSync(file, content);
      return file;
    },
    read: (name) => readFileSync(join(migrationsDir, name), 'utf8'),
    remove: (name) => rmSync(join(migrationsDir, name)),
  };
}

function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `cmpkg-e2e-${label}-`));
  created.push(dir);
  return dir;
}

/**
 * A copy of examples/sample-plugin in a fresh temp dir, so tests can edit files freely. `dbUrl`
 * points it at another database (the default is `sqlite:./test.db` in the project dir).
 */
export function copySamplePlugin(dbUrl?: string): Project {
  const dir = tempDir('sample');
  cpSync(samplePluginDir, dir, { recursive: true });
  // The README is not part of the plugin; a stray file in the project dir must not matter anyway.
  return makeProject(dir, join(dir, 'migrations'), dbUrl);
}

/** A fresh project with plugin id `e2e` and the given migration files (name -> content). */
export function createProject(files: Record<string, string> = {}, pluginId = 'e2e', dbUrl?: string): Project {
  const dir = tempDir(pluginId);
  const migrationsDir = join(dir, 'migrations');
  mkdirSync(migrationsDir);
  writeFileSync(
    join(dir, 'cmpkg.config.json'),
    `${JSON.stringify({ plugin: { id: pluginId, version: '1.0.0' }, migrationsDir: 'migrations' }, null, 2)}\n`,
  );
  const project = makeProject(dir, migrationsDir, dbUrl);
  for (const [name, content] of Object.entries(files)) project.write(name, content);
  return project;
}

/** Removes every temp dir this process created; call from `afterAll`. */
export function removeTempDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export interface SqlMigrationOptions {
  down?: string;
  dependencies?: string[];
  /** Extra header lines without the `-- ` prefix, e.g. `@riskLevel: high`. */
  headers?: string[];
}

/** An annotated SQL migration (DESIGN.md §2.2); the id defaults to the file name. */
export function sqlMigration(up: string, options: SqlMigrationOptions = {}): string {
  const lines = ['-- @version: 1.0.0'];
  if (options.dependencies) lines.push(`-- @dependencies: [${options.dependencies.join(', ')}]`);
  for (const header of options.headers ?? []) lines.push(`-- ${header}`);
  lines.push('', '-- UP MIGRATION', up.trim(), '');
  if (options.down !== undefined) lines.push('-- DOWN MIGRATION', options.down.trim(), '');
  return lines.join('\n');
}

/** A minimal portable-migration-v1 document; `extra` is merged into `migration`. */
export function jsonMigration(id: string, upSql: string, extra: Record<string, unknown> = {}): string {
  const doc = {
    format: 'portable-migration-v1',
    migration: {
      id,
      version: '1.0.0',
      name: id,
      steps: { up: [{ id: 'up-1', type: 'sql', name: 'up', sql: { universal: upSql } }] },
      ...extra,
    },
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
