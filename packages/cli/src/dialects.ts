import path from 'node:path';
import { type Dialect, UsageError } from '@cmpkg/core';
import { SqliteDialect } from '@cmpkg/dialect-sqlite';

/** URL schemes of dialects that exist in the design but are not shipped with the CLI yet. */
const NOT_INSTALLED: Record<string, { engine: string; pkg: string }> = {
  'postgres:': { engine: 'PostgreSQL', pkg: '@cmpkg/dialect-postgres' },
  'postgresql:': { engine: 'PostgreSQL', pkg: '@cmpkg/dialect-postgres' },
  'mysql:': { engine: 'MySQL', pkg: '@cmpkg/dialect-mysql' },
  'mariadb:': { engine: 'MariaDB', pkg: '@cmpkg/dialect-mysql' },
};

/** The scheme of a URL (`sqlite:`, `postgres:`), lower-cased; undefined when there is none. */
function schemeOf(url: string): string | undefined {
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  return m ? `${m[1]!.toLowerCase()}:` : undefined;
}

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
  const scheme = schemeOf(url);
  if (scheme === 'sqlite:') return new SqliteDialect();
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
 * Makes a relative SQLite path absolute against `baseDir` (the config file's folder for URLs from
 * the config, the working directory otherwise). Other URLs are returned unchanged, and so is a
 * relative path whose base is the process's own working directory, which keeps messages short.
 *
 * @example
 * resolveDatabaseUrl('sqlite:./app.db', '/srv/project'); // 'sqlite:/srv/project/app.db'
 * resolveDatabaseUrl('sqlite::memory:', '/srv/project'); // 'sqlite::memory:'
 */
export function resolveDatabaseUrl(url: string, baseDir: string): string {
  if (schemeOf(url) !== 'sqlite:') return url;
  const rest = url.slice('sqlite:'.length);
  // `sqlite::memory:`, `sqlite://...` (left to the dialect), and absolute paths need nothing.
  if (rest === '' || rest.startsWith(':') || rest.startsWith('//') || path.isAbsolute(rest)) return url;
  const absolute = path.resolve(baseDir, rest);
  if (absolute === path.resolve(process.cwd(), rest)) return url;
  return `sqlite:${absolute}`;
}
