import path from 'node:path';
import { type Dialect, resolveSqliteUrl, UsageError } from '@cmpkg/core';
import { SqliteDialect } from '@cmpkg/dialect-sqlite';

/** URL schemes of dialects that exist in the design but are not shipped with the CLI yet. */
const NOT_INSTALLED: Record<string, { engine: string; pkg: string }> = {
  'postgres:': { engine: 'PostgreSQL', pkg: '@cmpkg/dialect-postgres' },
  'postgresql:': { engine: 'PostgreSQL', pkg: '@cmpkg/dialect-postgres' },
  'mysql:': { engine: 'MySQL', pkg: '@cmpkg/dialect-mysql' },
  'mariadb:': { engine: 'MariaDB', pkg: '@cmpkg/dialect-mysql' },
};

/** The scheme of a URL (`postgres:`), lower-cased; undefined when there is none. */
function schemeOf(url: string): string | undefined {
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  return m ? `${m[1]!.toLowerCase()}:` : undefined;
}

/** The dialects this CLI ships; each says which URLs it serves. */
const DIALECTS: readonly (() => Dialect)[] = [() => new SqliteDialect()];

/** A URL with any password replaced by `***`, so error messages never print secrets. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');
}

/**
 * Picks the dialect that serves a database URL. Only SQLite is installed today; PostgreSQL and
 * MySQL URLs get a clear "not installed yet" message instead of a confusing connection error.
 *
 * @example
 * dialectFor('sqlite:./app.db').engine; // 'sqlite'
 * dialectFor('postgres://localhost/app'); // throws UsageError: the PostgreSQL dialect is not installed yet
 */
export function dialectFor(url: string): Dialect {
  for (const make of DIALECTS) {
    const dialect = make();
    if (dialect.handles(url)) return dialect;
  }
  const scheme = schemeOf(url);
  const missing = scheme ? NOT_INSTALLED[scheme] : undefined;
  if (missing) {
    throw new UsageError(
      `the ${missing.engine} dialect is not installed yet (${missing.pkg}); cannot use ${redactUrl(url)}`,
      { details: { url: redactUrl(url), dialect: missing.pkg } },
    );
  }
  throw new UsageError(
    `unsupported database URL "${redactUrl(url)}": expected sqlite:./file.db or sqlite::memory: ` +
      '(postgres:// and mysql:// arrive with their dialect packages)',
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
