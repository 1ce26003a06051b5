import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection, ExecuteOptions, QueryResult } from '@cmpkg/core';
import { backoffDelay, ConnectionError, UsageError } from '@cmpkg/core';
import {
  Kysely,
  PostgresDialect as KyselyPostgresDialect,
  type PostgresCursor,
  type PostgresPool,
  type PostgresPoolClient,
  type PostgresQueryResult,
} from 'kysely';
import pg from 'pg';
import { quotePostgresIdentifier } from './postgres-adapter.js';
import {
  isConnectionLoss,
  PostgresStatementTimeoutError,
  PostgresTransactionLostError,
  sqlStateOf,
} from './postgres-errors.js';

// ------------------------------------------------------------------------------------------------ URLs

/**
 * What a `postgres://` URL says, before the driver fills in its defaults (`PGHOST`, `PGUSER`, ...).
 *
 * @example
 * const { host, port, database, schema }: PostgresUrl = parsePostgresUrl('postgres://app@db:5432/shop?schema=sales');
 */
export interface PostgresUrl {
  /** Host name, IP address, or a socket directory (`?host=/var/run/postgresql`); undefined when absent. */
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  /** `?schema=name`: the schema cmpkg works in (the session's `search_path`). */
  schema?: string;
  /** The URL pg gets: as given, minus cmpkg's own `schema` parameter. */
  connectionString: string;
}

const SCHEME = /^postgres(?:ql)?:\/\//i;

/**
 * True when `url` is a `postgres://` or `postgresql://` URL (any letter case).
 *
 * @example
 * isPostgresUrl('postgresql://localhost/app'); // true
 * isPostgresUrl('mysql://localhost/app'); // false
 */
export function isPostgresUrl(url: string): boolean {
  return SCHEME.test(url);
}

/**
 * Takes a PostgreSQL URL apart. Everything pg understands (`sslmode`, `host=/socket/dir`,
 * `application_name`, ...) is passed through; `?schema=name` is cmpkg's own and sets the session's
 * `search_path`. Throws `UsageError` (without echoing a password) for URLs that do not parse.
 *
 * @example
 * parsePostgresUrl('postgres://app:secret@db.internal:6432/shop?schema=sales');
 * // { host: 'db.internal', port: 6432, database: 'shop', user: 'app', schema: 'sales',
 * //   connectionString: 'postgres://app:secret@db.internal:6432/shop' }
 */
export function parsePostgresUrl(url: string): PostgresUrl {
  if (!isPostgresUrl(url)) {
    throw new UsageError(`not a PostgreSQL URL: "${displayPostgresUrl(url)}" (expected postgres://host/db)`);
  }
  let parsed: URL;
  let hostless = false;
  try {
    parsed = new URL(url);
  } catch {
    try {
      // `postgres://user@/db?host=/socket/dir` has user info but no host, which WHATWG URLs refuse;
      // pg accepts it the same way.
      parsed = new URL(url.replace('@/', '@cmpkg-no-host/'));
      hostless = true;
    } catch {
      throw new UsageError(
        `invalid PostgreSQL URL "${displayPostgresUrl(url)}" (expected postgres://user:password@host:port/database)`,
      );
    }
  }
  const query = parsed.searchParams;
  const schema = query.get('schema') ?? undefined;
  if (schema === '') throw new UsageError(`PostgreSQL URL "${displayPostgresUrl(url)}": ?schema= is empty`);
  // Brackets belong to the URL syntax of IPv6 addresses, not to the address.
  const host =
    (hostless ? '' : decode(parsed.hostname).replace(/^\[(.*)\]$/, '$1')) || query.get('host') || undefined;
  const portText = parsed.port || query.get('port');
  const port = portText ? Number(portText) : undefined;
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    throw new UsageError(`PostgreSQL URL "${displayPostgresUrl(url)}": invalid port "${portText}"`);
  }
  return {
    host,
    port,
    database: decode(parsed.pathname.replace(/^\//, '')) || query.get('dbname') || undefined,
    user: decode(parsed.username) || query.get('user') || undefined,
    schema,
    connectionString: withoutQueryParams(url, (key) => key === 'schema'),
  };
}

/**
 * The URL with its password removed (from the user info and a `password=` parameter): safe to print.
 *
 * @example
 * displayPostgresUrl('postgres://app:secret@db/shop'); // 'postgres://app@db/shop'
 */
export function displayPostgresUrl(url: string): string {
  let text = url;
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') {
      parsed.password = '';
      text = parsed.toString();
    }
  } catch {
    // Not a parseable URL: still never echo what looks like `user:password@`. Up to the LAST `@`: the
    // usual reason a URL does not parse is a password with an unencoded `/`, `#`, `?` or `@` in it.
    text = text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@?#]*):.*@/i, '$1@');
  }
  return withoutQueryParams(text, (key) => /pass(word)?$/i.test(key));
}

/** Drops query parameters by name, keeping the rest byte for byte (URLSearchParams would re-encode them). */
function withoutQueryParams(url: string, drop: (key: string) => boolean): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const hash = url.indexOf('#', q);
  const end = hash < 0 ? url.length : hash;
  const kept = url
    .slice(q + 1, end)
    .split('&')
    .filter((pair) => pair !== '' && !drop(decode(pair.split('=')[0] ?? '')));
  return url.slice(0, q) + (kept.length > 0 ? `?${kept.join('&')}` : '') + url.slice(end);
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

// ------------------------------------------------------------------------------------------------ values

const INT8_OID = 20;
const INT8_ARRAY_OID = 1016;

/** bigint columns as numbers where that is exact, BigInt beyond 2^53 (pg's default is a string). */
function parseInt8(value: string): number | bigint {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : BigInt(value);
}

function mapDeep(value: unknown, fn: (text: string) => unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => mapDeep(v, fn));
  return typeof value === 'string' ? fn(value) : value;
}

/** Per-client type parsers: int8 as above, numeric stays a string (it is exact only as text). */
const TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): unknown {
    // pg-types' TypeId enum lists no array types, but its parsers cover them.
    const builtin = pg.types.getTypeParser as (oid: number, format?: 'text' | 'binary') => unknown;
    if (format !== 'binary') {
      if (oid === INT8_OID) return parseInt8;
      if (oid === INT8_ARRAY_OID) {
        const parseArray = builtin(INT8_ARRAY_OID, 'text') as (text: string) => unknown;
        return (text: string) => mapDeep(parseArray(text), parseInt8);
      }
    }
    return builtin(oid, format);
  },
};

// ------------------------------------------------------------------------------------------------ connect

/**
 * Where a connection goes once the driver's defaults are applied; named in every connection error.
 *
 * @example
 * const { host, port, database }: PostgresServer = conn.server;
 */
export interface PostgresServer {
  host: string;
  port: number;
  database: string;
  user?: string;
}

/**
 * Options of {@link openPostgresConnection}.
 *
 * @example
 * const options: PostgresConnectionOptions = { connectTimeoutMs: 5000, readOnly: true };
 */
export interface PostgresConnectionOptions {
  /** Give up connecting after this long (0: wait as long as the OS does). */
  connectTimeoutMs: number;
  /** `SET default_transaction_read_only = on`: every write fails (`25006`, classified `permission`). */
  readOnly?: boolean;
  /**
   * After a dropped connection, how long the reconnect waits to take back the advisory locks the
   * connection held before giving up with `ConnectionError`. Default 10000.
   */
  relockTimeoutMs?: number;
}

/** One advisory lock held through a connection, taken back after a reconnect. @internal */
export interface HeldAdvisoryLock {
  name: string;
  classId: number;
  objId: number;
}

/**
 * Re-acquires a lock after a reconnect, or throws (the lock module owns the SQL and the holder lookup).
 * @internal
 */
export type Relocker = (client: pg.Client, lock: HeldAdvisoryLock, timeoutMs: number) => Promise<void>;

/** How often the server checks, during a statement, that the client is still there (PostgreSQL 14+). */
const CLIENT_CHECK_INTERVAL_MS = 1000;

const ROLLBACK = /^\s*(?:rollback|abort)(?:\s+(?:work|transaction))?\s*;?\s*$/i;
const COMMIT = /^\s*(?:commit|end)(?:\s+(?:work|transaction))?\s*;?\s*$/i;
const COUNTED_COMMANDS = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE', 'COPY']);

/** The parts of a pg result `execute` reads. */
interface PgResult {
  command: string | null;
  rowCount: number | null;
  rows: unknown[];
}

/**
 * One connection to PostgreSQL: a single pg `Client` (never a pool, so session-level advisory locks,
 * transactions and settings hold for the whole run) and a Kysely instance over that same client.
 *
 * - `execute` runs one statement; `timeoutMs` cancels it on the server (`pg_cancel_backend` from a
 *   short-lived side connection) and it fails with {@link PostgresStatementTimeoutError}.
 * - If the server drops the connection (`pg_terminate_backend`, a restart), the next statement
 *   reconnects with the same settings (read-only, `search_path`, `application_name`) and takes back the
 *   advisory locks the connection held. The statement that was running when it dropped fails with an
 *   error `classifyError` calls `transient`. If a transaction was open, the server rolled it back:
 *   statements then fail with {@link PostgresTransactionLostError} until a `ROLLBACK`.
 *
 * Create it with `PostgresDialect.connect` (or {@link openPostgresConnection}).
 *
 * @example
 * const conn = await new PostgresDialect().connect('postgres://postgres@localhost/app');
 * await conn.execute('begin');
 * await sql`insert into t (x) values (${1})`.execute(conn.db); // same session, same transaction
 * await conn.execute('commit');
 * await conn.close();
 */
export class PostgresConnection implements Connection {
  readonly engine = 'postgresql' as const;
  /** The URL without its password. */
  readonly displayUrl: string;
  /** The URL's parts, as given. */
  readonly url: PostgresUrl;
  /** Host, port and database after the driver's defaults. */
  readonly server: PostgresServer;
  /** Opened with `readOnly`: `default_transaction_read_only` is on. */
  readonly readOnly: boolean;
  readonly db: Kysely<object>;
  readonly #options: PostgresConnectionOptions;
  #client: pg.Client;
  #pid: number;
  #alive = true;
  #closed = false;
  #txLost = false;
  #dropCause: unknown;
  #reconnecting: Promise<void> | undefined;
  #reconnects = 0;
  /** Set by the lock (`cmpkg: <holder>`); restored after a reconnect. */
  #applicationName: string | undefined;
  readonly #locks = new Set<HeldAdvisoryLock>();
  #relocker: Relocker | undefined;
  readonly #cleanups = new Set<() => Promise<void>>();

  private constructor(
    url: string,
    parsed: PostgresUrl,
    options: PostgresConnectionOptions,
    client: pg.Client,
  ) {
    this.displayUrl = displayPostgresUrl(url);
    this.url = parsed;
    this.readOnly = options.readOnly === true;
    this.#options = options;
    this.#client = client;
    this.#pid = 0;
    this.server = serverOf(client);
    this.#watch(client);
    const shim = new KyselyClient((sql, params) => this.#kyselyQuery(sql, params));
    const pool: PostgresPool = {
      connect: async () => shim,
      // close() ends the client; Kysely's destroy() must not.
      end: async () => {},
    };
    this.db = new Kysely<object>({ dialect: new KyselyPostgresDialect({ pool }) });
  }

  /**
   * Connects; see {@link openPostgresConnection}.
   * @internal
   */
  static async open(url: string, options: PostgresConnectionOptions): Promise<PostgresConnection> {
    const parsed = parsePostgresUrl(url);
    const client = newClient(parsed, options);
    const conn = new PostgresConnection(url, parsed, options, client);
    await connectClient(client, options.connectTimeoutMs);
    try {
      conn.#pid = await conn.#initSession(client);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw connectionError(conn.server, err, options.connectTimeoutMs);
    }
    return conn;
  }

  /** The server process id of the current session (`pg_backend_pid()`); changes after a reconnect. */
  get pid(): number {
    return this.#pid;
  }

  /** The pg client of the current session, for what Kysely does not cover (COPY). Replaced on reconnect. */
  get client(): pg.Client {
    return this.#client;
  }

  /** How many times the connection has been re-established after the server dropped it. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** Whether the session is inside a transaction (pg's view of the server's ReadyForQuery status: `T` or `E`). */
  get inTransaction(): boolean {
    const status = this.#client.getTransactionStatus() as string | null;
    return status === 'T' || status === 'E';
  }

  /** False once `close()` has been called. */
  get isOpen(): boolean {
    return !this.#closed;
  }

  /**
   * Runs ONE statement with `$1, $2, ...` parameters (a parameterless string may hold several; then the
   * rows are the last one's). `rowsAffected` counts rows of INSERT, UPDATE, DELETE, MERGE and COPY
   * (also with RETURNING), 0 otherwise. `bigint` values come back as numbers, or BigInt beyond 2^53;
   * `numeric` as strings.
   *
   * With `timeoutMs` the server cancels the statement when the time is up; it then fails with
   * {@link PostgresStatementTimeoutError} and the connection stays usable.
   *
   * @example
   * const { rows } = await conn.execute<{ n: number }>('select count(*)::int as n from t where x > $1', [5]);
   * await conn.execute('update big set x = x + 1', [], { timeoutMs: 30_000 });
   */
  async execute<R = Record<string, unknown>>(
    sql: string,
    params: readonly unknown[] = [],
    options: ExecuteOptions = {},
  ): Promise<QueryResult<R>> {
    const { timeoutMs } = options;
    if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
      throw new UsageError(`invalid statement timeout ${timeoutMs}: expected a number of milliseconds > 0`);
    }
    await this.#ready(sql);
    const client = this.#client;
    const pid = this.#pid;
    const started = performance.now();
    let cancelling: Promise<void> | undefined;
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            cancelling = this.#cancel(pid);
          }, timeoutMs);
    try {
      const result = (options.rowMode === 'array'
        ? await client.query({ text: sql, values: [...params], rowMode: 'array' })
        : await client.query(sql, [...params])) as unknown as PgResult | PgResult[];
      const results = Array.isArray(result) ? result : [result];
      let rowsAffected = 0;
      for (const r of results) if (COUNTED_COMMANDS.has(r.command ?? '')) rowsAffected += r.rowCount ?? 0;
      return { rows: (results[results.length - 1]?.rows ?? []) as R[], rowsAffected };
    } catch (err) {
      if (cancelling !== undefined && sqlStateOf(err) === '57014') {
        throw new PostgresStatementTimeoutError(timeoutMs!, Math.round(performance.now() - started), err);
      }
      this.#noteFailure(client, err);
      throw err;
    } finally {
      clearTimeout(timer);
      // Never return while a cancel is on its way: it could hit the caller's next statement.
      if (cancelling !== undefined) await cancelling;
    }
  }

  /**
   * Releases the locks taken through this connection, then ends the session. Safe to call twice.
   *
   * @example
   * await conn.close(); await conn.close(); // the second call does nothing
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    for (const cleanup of [...this.#cleanups]) await cleanup().catch(() => undefined);
    this.#cleanups.clear();
    this.#closed = true;
    await this.db.destroy().catch(() => undefined);
    await this.#client.end().catch(() => undefined);
  }

  // ---------------------------------------------------------------------------------- for the lock

  /**
   * Registers work `close()` must do first (the lock's release); returns an unregister function.
   * @internal
   */
  onClose(cleanup: () => Promise<void>): () => void {
    this.#cleanups.add(cleanup);
    return () => {
      this.#cleanups.delete(cleanup);
    };
  }

  /**
   * Remembers an advisory lock held by this session so a reconnect takes it back with `relock`.
   * Returns the function that forgets it again.
   * @internal
   */
  trackLock(lock: HeldAdvisoryLock, relock: Relocker): () => void {
    this.#locks.add(lock);
    this.#relocker = relock;
    return () => {
      this.#locks.delete(lock);
    };
  }

  /**
   * Sets `application_name` (kept across reconnects); returns the previous value.
   * @internal
   */
  async setApplicationName(name: string): Promise<string> {
    const { rows } = await this.execute<{ name: string }>(
      "select current_setting('application_name') as name",
    );
    await this.execute("select set_config('application_name', $1, false)", [name]);
    this.#applicationName = name;
    return rows[0]?.name ?? '';
  }

  /**
   * Puts back the `application_name` a lock replaced. Does not reconnect: if the session is gone, the
   * value is only remembered for the next one.
   * @internal
   */
  async restoreApplicationName(previous: string): Promise<void> {
    this.#applicationName = previous;
    await this.queryIfAlive("select set_config('application_name', $1, false)", [previous]);
  }

  /**
   * Runs a statement only if the session is alive, without reconnecting (a release must not open a new
   * session just to unlock what the dead one held). Returns false when it did not run.
   * @internal
   */
  async queryIfAlive(sql: string, params: readonly unknown[] = []): Promise<boolean> {
    // A reconnect under way may be taking back the very lock being released: let it finish first.
    if (this.#reconnecting !== undefined) await this.#reconnecting.catch(() => undefined);
    if (this.#closed || !this.#alive) return false;
    await this.#client.query(sql, [...params]);
    return true;
  }

  // ---------------------------------------------------------------------------------- internals

  /** Reconnects if the server dropped us, and refuses statements meant for a lost transaction. */
  async #ready(sql: string): Promise<void> {
    if (this.#closed) throw new UsageError(`the connection to ${this.displayUrl} is closed`);
    if (!this.#alive) {
      this.#reconnecting ??= this.#reconnect().finally(() => {
        this.#reconnecting = undefined;
      });
      await this.#reconnecting;
    }
    if (this.#txLost) {
      if (ROLLBACK.test(sql)) {
        // The server already rolled it back; a ROLLBACK on the new session is a harmless no-op.
        this.#txLost = false;
        return;
      }
      // A COMMIT ends the lost transaction too, but must not look like it committed anything.
      if (COMMIT.test(sql)) this.#txLost = false;
      throw new PostgresTransactionLostError(this.#dropCause);
    }
  }

  async #kyselyQuery<R>(sql: string, params: readonly unknown[]): Promise<PostgresQueryResult<R>> {
    await this.#ready(sql);
    const client = this.#client;
    try {
      return (await client.query(sql, [...params])) as unknown as PostgresQueryResult<R>;
    } catch (err) {
      this.#noteFailure(client, err);
      throw err;
    }
  }

  /** A statement failed because the session is gone: mark it dead now rather than when 'end' arrives. */
  #noteFailure(client: pg.Client, err: unknown): void {
    if (isConnectionLoss(err)) this.#dropped(client, err);
  }

  /** Listens for the session dying while idle; an 'error' listener also keeps pg from crashing the process. */
  #watch(client: pg.Client): void {
    client.on('error', (err) => this.#dropped(client, err));
    client.on('end', () => this.#dropped(client, undefined));
  }

  #dropped(client: pg.Client, cause: unknown): void {
    if (client !== this.#client || this.#closed || !this.#alive) return;
    this.#alive = false;
    this.#dropCause = cause;
    // The status of the last ReadyForQuery: inside a transaction ('T') or a failed one ('E').
    const status = client.getTransactionStatus() as string | null;
    if (status === 'T' || status === 'E') this.#txLost = true;
  }

  async #reconnect(): Promise<void> {
    // The old session is dead; make sure its socket is too, without waiting on it.
    this.#client.end().catch(() => undefined);
    const server = this.server;
    // close() may come while this waits for a restarting server: stop retrying then, and never adopt
    // (and so leak, with its socket keeping the process alive) a session nobody will close.
    const closed = () => this.#closed;
    const client = await reconnectClient(this.url, this.#options, closed);
    try {
      const pid = await this.#initSession(client);
      const relockTimeoutMs = this.#options.relockTimeoutMs ?? 10_000;
      for (const lock of this.#locks) {
        if (closed()) break;
        await this.#relocker?.(client, lock, relockTimeoutMs);
      }
      if (closed()) throw new UsageError(`the connection to ${this.displayUrl} is closed`);
      this.#pid = pid;
    } catch (err) {
      await client.end().catch(() => undefined);
      if (err instanceof ConnectionError || err instanceof UsageError) throw err;
      throw connectionError(server, err, this.#options.connectTimeoutMs);
    }
    this.#client = client;
    this.#watch(client);
    this.#alive = true;
    this.#reconnects++;
  }

  /** Session settings in one round trip (two from PostgreSQL 14); returns the backend pid. */
  async #initSession(client: pg.Client): Promise<number> {
    const params: unknown[] = [];
    const columns = ['pg_backend_pid() as pid', "current_setting('server_version_num')::int as version"];
    if (this.url.schema !== undefined) {
      params.push(quotePostgresIdentifier(this.url.schema));
      columns.push(`set_config('search_path', $${params.length}, false)`);
    }
    if (this.readOnly) columns.push("set_config('default_transaction_read_only', 'on', false)");
    if (this.#applicationName !== undefined) {
      params.push(this.#applicationName);
      columns.push(`set_config('application_name', $${params.length}, false)`);
    }
    const { rows } = await client.query<{ pid: number; version: number }>(
      `select ${columns.join(', ')}`,
      params,
    );
    if (Number(rows[0]?.version) >= 140_000) {
      // A backend notices a vanished client only when it next talks to it: a killed migrator's
      // long statement would run on for minutes, holding the migration lock. With this the server
      // checks the socket every second and ends the session, and the lock with it.
      await client
        .query(`select set_config('client_connection_check_interval', $1, false)`, [
          String(CLIENT_CHECK_INTERVAL_MS),
        ])
        .catch(() => undefined); // not available on every platform; the lock then waits for the statement
    }
    return Number(rows[0]?.pid);
  }

  /** Cancels whatever `pid` runs, from a side session; never rejects (the statement then just runs on). */
  async #cancel(pid: number): Promise<void> {
    const side = newClient(this.url, this.#options);
    side.on('error', () => undefined);
    try {
      await side.connect();
      await side.query('select pg_cancel_backend($1)', [pid]);
    } catch {
      // Could not reach the server a second time: nothing else can stop the statement from here.
    } finally {
      await side.end().catch(() => undefined);
    }
  }
}

/** The client Kysely's PostgresDialect gets from the pool shim: always this connection's session. */
class KyselyClient implements PostgresPoolClient {
  readonly #run: (sql: string, params: readonly unknown[]) => Promise<PostgresQueryResult<unknown>>;

  constructor(run: (sql: string, params: readonly unknown[]) => Promise<PostgresQueryResult<unknown>>) {
    this.#run = run;
  }

  query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
  query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  query<R>(
    sqlOrCursor: string | PostgresCursor<R>,
    parameters?: ReadonlyArray<unknown>,
  ): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    if (typeof sqlOrCursor !== 'string')
      throw new Error('streaming queries are not supported on cmpkg connections');
    return this.#run(sqlOrCursor, parameters ?? []) as Promise<PostgresQueryResult<R>>;
  }

  /** The session stays pinned to the connection: nothing to give back. */
  release(): void {}
}

function newClient(url: PostgresUrl, options: PostgresConnectionOptions): pg.Client {
  return new pg.Client({
    connectionString: url.connectionString,
    connectionTimeoutMillis: options.connectTimeoutMs,
    types: TYPES,
  });
}

function serverOf(client: pg.Client): PostgresServer {
  return {
    host: client.host || 'localhost',
    port: client.port || 5432,
    database: client.database ?? client.user ?? '',
    user: client.user,
  };
}

async function connectClient(client: pg.Client, timeoutMs: number): Promise<void> {
  // Our own flag, set just before pg's timer (same delay, created first) destroys the socket: pg then
  // reports only "Connection terminated unexpectedly".
  let timedOut = false;
  const timer = timeoutMs > 0 ? setTimeout(() => (timedOut = true), timeoutMs) : undefined;
  try {
    await client.connect();
  } catch (err) {
    throw connectionError(serverOf(client), err, timeoutMs, timedOut);
  } finally {
    clearTimeout(timer);
  }
}

/** Refused or still starting up: what a server restart looks like from outside for a few seconds. */
function isRestarting(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  const message = String((err as { message?: unknown } | undefined)?.message ?? '');
  return code === 'ECONNREFUSED' || code === '57P03' || /^Connection terminated/.test(message);
}

/**
 * Connects the replacement session after a drop. A restarting server refuses connections (or answers
 * `57P03 the database system is starting up`) for a few seconds, so those are retried, with backoff,
 * for up to `connectTimeoutMs` (10 s when that is 0), or until the connection is closed; anything else
 * fails at once.
 */
async function reconnectClient(
  url: PostgresUrl,
  options: PostgresConnectionOptions,
  closed: () => boolean,
): Promise<pg.Client> {
  const deadline = Date.now() + (options.connectTimeoutMs > 0 ? options.connectTimeoutMs : 10_000);
  for (let attempt = 0; ; attempt++) {
    if (closed())
      throw new UsageError(`the connection to ${displayPostgresUrl(url.connectionString)} is closed`);
    const client = newClient(url, options);
    // Errors of the new client before the connection adopts it must not crash the process either.
    client.on('error', () => undefined);
    try {
      await connectClient(client, options.connectTimeoutMs);
      return client;
    } catch (err) {
      const delay = backoffDelay(attempt, 100, 1000);
      if (!isRestarting((err as { cause?: unknown }).cause) || Date.now() + delay > deadline) throw err;
      await sleep(delay);
    }
  }
}

/**
 * The one-line `ConnectionError` for a failed connect: `cannot connect to PostgreSQL at host:port/db:
 * <reason>`, with the driver error as `cause`.
 *
 * @example
 * throw connectionError({ host: 'db', port: 5432, database: 'app' }, err, 10_000);
 */
export function connectionError(
  server: PostgresServer,
  err: unknown,
  timeoutMs: number,
  timedOut = false,
): ConnectionError {
  const where = `${server.host}:${server.port}/${server.database}`;
  return new ConnectionError(
    `cannot connect to PostgreSQL at ${where}: ${connectFailureReason(err, timeoutMs, timedOut)}`,
    {
      cause: err,
      details: { host: server.host, port: server.port, database: server.database },
    },
  );
}

/**
 * A human reason for a failed connect: `connection refused`, `timed out after 10000 ms`, `host not
 * found`, or the server's own message (`password authentication failed for user "x"`, `database "x"
 * does not exist`), on one line.
 *
 * @example
 * connectFailureReason(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 10_000);
 * // 'connection refused'
 */
export function connectFailureReason(err: unknown, timeoutMs: number, timedOut = false): string {
  if (timedOut) return `timed out after ${timeoutMs} ms`;
  const e = (err ?? {}) as { code?: unknown; message?: unknown; errors?: unknown };
  // Node's happy-eyeballs connect reports an AggregateError; the first attempt's code says enough.
  const first = Array.isArray(e.errors) ? (e.errors[0] as { code?: unknown } | undefined) : undefined;
  const code = typeof e.code === 'string' ? e.code : first?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return 'host not found';
    case 'ETIMEDOUT':
      return `timed out after ${timeoutMs} ms`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
  }
  const message = typeof e.message === 'string' && e.message !== '' ? e.message : String(err);
  if (/timeout expired/i.test(message)) return `timed out after ${timeoutMs} ms`;
  // The socket opened but closed before the server answered: a proxy, or not a PostgreSQL server.
  if (/^Connection terminated/.test(message)) return 'the connection was closed during the handshake';
  return message.split('\n')[0]!.trim();
}

/**
 * Connects to a `postgres://` URL: one pg client, session settings applied (`search_path` from
 * `?schema=`, read-only), and the backend pid read, in one round trip after the handshake. Failures
 * are core `ConnectionError`s naming host, port and database.
 *
 * @example
 * const conn = await openPostgresConnection('postgres://postgres@localhost/app', { connectTimeoutMs: 10_000 });
 */
export function openPostgresConnection(
  url: string,
  options: PostgresConnectionOptions,
): Promise<PostgresConnection> {
  return PostgresConnection.open(url, options);
}

/**
 * Narrows a core `Connection` to this dialect's, failing with a usage error for foreign connections.
 * @internal
 */
export function asPostgresConnection(conn: Connection): PostgresConnection {
  if (conn instanceof PostgresConnection) return conn;
  throw new UsageError(
    `the PostgreSQL dialect was given a ${conn.engine} connection (${conn.displayUrl}); ` +
      'use the connection returned by PostgresDialect.connect',
  );
}
