import path from 'node:path';
import { type Dialect, resolveSqliteUrl, UsageError } from '@cmpkg/core';

/**
 * The dialects this CLI ships, keyed by URL scheme. Each is imported only when a URL needs it, so
 * a SQLite command never loads the PostgreSQL or MySQL driver (start-up time).
 */
const DIALECTS: Record<string, () => Promise<Dialect>> = {
  'sqlite:': async () => new (await import('@cmpkg/dialect-sqlite')).SqliteDialect(),
  'postgres:': async () => new (await import('@cmpkg/dialect-postgres')).PostgresDialect(),
  'postgresql:': async () => new (await import('@cmpkg/dialect-postgres')).PostgresDialect(),
  'mysql:': async () => new (await import('@cmpkg/dialect-mysql')).MysqlDialect(),
  'mariadb:': async () => new (await import('@cmpkg/dialect-mysql')).MysqlDialect(),
};

/** The scheme of a URL (`postgres:`), lower-cased; undefined when there is none. */
function schemeOf(url: string): string | undefined {
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  return m ? `${m[1]!.toLowerCase()}:` : undefined;
}

/** A URL with any password replaced by `***`, so error messages never print secrets. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');
}

/**
 * Picks the dialect that serves a database URL by its scheme, and checks with the dialect's own
 * `handles` that it accepts the URL.
 *
 * @example
 * (await dialectFor('sqlite:./app.db')).engine; // 'sqlite'
 * (await dialectFor('postgres://localhost/app')).engine; // 'postgresql'
 */
export async function dialectFor(url: string): Promise<Dialect> {
  const scheme = schemeOf(url);
  const load = scheme !== undefined ? DIALECTS[scheme] : undefined;
  const dialect = load ? await load() : undefined;
  if (dialect?.handles(url)) return dialect;
  throw new UsageError(
    `unsupported database URL "${redactUrl(url)}": expected sqlite:./file.db, sqlite::memory:, ` +
      'postgres://user@host:5432/db or mysql://user@host:3306/db',
    { details: { url: redactUrl(url) } },
  );
}

/**
 * Resolves a relative SQLite path in a flag or the environment against the command's working
 * directory (core's `resolveSqliteUrl`); when that is the process's own directory the URL is kept as
 * typed, which keeps messages short and means the same file.
 *
 * @example
 * resolveDatabaseUrl('sqlite:./app.db', '/srv/project'); // 'sqlite:/srv/project/app.db' (run elsewhere)
 * resolveDatabaseUrl('sqlite::memory:', '/srv/project'); // 'sqlite::memory:'
 */
export function resolveDatabaseUrl(url: string, cwd: string): string {
  return path.resolve(cwd) === process.cwd() ? url : resolveSqliteUrl(url, cwd);
}
