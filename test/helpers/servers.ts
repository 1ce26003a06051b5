import mysql from 'mysql2/promise';
import pg from 'pg';

/**
 * The database servers the cross-engine suites run on. Admin URLs can be overridden; the tests
 * create one throw-away database per suite under them and drop it afterwards.
 */
export type ServerEngine = 'postgresql' | 'mysql';

export const SERVER_URLS: Record<ServerEngine, string> = {
  postgresql: process.env.CMPKG_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  mysql: process.env.CMPKG_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test',
};

export const SERVER_LABELS: Record<ServerEngine, string> = {
  postgresql: 'PostgreSQL',
  mysql: 'MySQL/MariaDB',
};

const ENV_NAMES: Record<ServerEngine, string> = {
  postgresql: 'CMPKG_TEST_POSTGRES_URL',
  mysql: 'CMPKG_TEST_MYSQL_URL',
};

export interface ServerStatus {
  available: boolean;
  /** Why it is not available (host, port, driver message). */
  reason?: string;
  version?: string;
}

/** Admin-level access to a server, with the raw drivers (never the code under test). */
export interface AdminClient {
  query(sql: string, params?: unknown[]): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
}

export async function adminClient(engine: ServerEngine, url = SERVER_URLS[engine]): Promise<AdminClient> {
  if (engine === 'postgresql') {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
    await client.connect();
    return {
      query: async (sql, params) => (await client.query(sql, params)).rows,
      close: () => client.end(),
    };
  }
  const conn = await mysql.createConnection({ uri: url, connectTimeout: 3000, multipleStatements: false });
  return {
    query: async (sql, params) => {
      const [rows] = await conn.query(sql, params);
      return Array.isArray(rows) ? (rows as Array<Record<string, unknown>>) : [];
    },
    close: () => conn.end(),
  };
}

export async function probe(engine: ServerEngine): Promise<ServerStatus> {
  const url = new URL(SERVER_URLS[engine]);
  try {
    const admin = await adminClient(engine);
    try {
      const [row] = await admin.query('select version() as v');
      return { available: true, version: String(row?.v ?? '') };
    } finally {
      await admin.close();
    }
  } catch (err) {
    const message = err instanceof Error ? err.message || (err as { code?: string }).code : String(err);
    return { available: false, reason: `cannot reach ${url.hostname}:${url.port} (${message})` };
  }
}

/** The one line printed when a server suite is skipped. */
export function skipLine(engine: ServerEngine, status: ServerStatus): string {
  return (
    `${SERVER_LABELS[engine]} suites skipped: ${status.reason}. Start the server or point ` +
    `${ENV_NAMES[engine]} at one; with CI=true these suites are mandatory.`
  );
}

/**
 * Database names of one test run: `cmpkg_t_<run>_<pid>_<n>`, where `<run>` is the run's start time
 * and process id in base 36 (`<time>p<pid>`), so a run drops only its own, and stale ones can be
 * told by their age.
 */
export function runDatabasePrefix(runId: string): string {
  return `cmpkg_t_${runId}_`;
}

/** A new run id: the start time and the process id. */
export function newRunId(now = Date.now()): string {
  return `${now.toString(36)}p${process.pid.toString(36)}`;
}

async function listTestDatabases(
  admin: AdminClient,
  engine: ServerEngine,
  prefix: string,
): Promise<string[]> {
  const pattern = `${prefix.replace(/_/g, '\\_')}%`;
  const rows =
    engine === 'postgresql'
      ? await admin.query('select datname as name from pg_database where datname like $1', [pattern])
      : await admin.query(
          'select schema_name as name from information_schema.schemata where schema_name like ?',
          [pattern],
        );
  return rows.map((r) => String(r.name ?? r.NAME));
}

async function dropDatabases(admin: AdminClient, engine: ServerEngine, names: string[]): Promise<void> {
  for (const name of names) {
    await admin.query(
      engine === 'postgresql'
        ? `drop database if exists "${name}" with (force)`
        : `drop database if exists \`${name}\``,
    );
  }
}

export async function dropRunDatabases(engine: ServerEngine, runId: string): Promise<void> {
  const admin = await adminClient(engine);
  try {
    await dropDatabases(admin, engine, await listTestDatabases(admin, engine, runDatabasePrefix(runId)));
  } finally {
    await admin.close();
  }
}

/**
 * Drops test databases of runs that started more than `maxAgeMs` ago (a run killed before its
 * teardown leaves its databases behind). Younger ones may belong to a run still going on this server.
 */
export async function dropStaleDatabases(
  engine: ServerEngine,
  maxAgeMs: number,
  now = Date.now(),
): Promise<string[]> {
  const admin = await adminClient(engine);
  try {
    const stale = (await listTestDatabases(admin, engine, 'cmpkg_t_')).filter((name) => {
      const started = Number.parseInt(/^cmpkg_t_([0-9a-z]+)p/.exec(name)?.[1] ?? '', 36);
      return Number.isFinite(started) && now - started > maxAgeMs;
    });
    await dropDatabases(admin, engine, stale);
    return stale;
  } finally {
    await admin.close();
  }
}
