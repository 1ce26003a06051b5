import net from 'node:net';
import { ConnectionError, UsageError } from '@cmpkg/core';
import { describe, expect, it } from 'vitest';
import {
  connectFailureReason,
  connectionError,
  displayPostgresUrl,
  isPostgresUrl,
  openPostgresConnection,
  parsePostgresUrl,
} from './postgres-connection.js';

describe('parsePostgresUrl', () => {
  it('takes a full URL apart and keeps the schema parameter out of what pg gets', () => {
    expect(
      parsePostgresUrl('postgres://app:s%40cret@db.internal:6432/shop?schema=sales&sslmode=require'),
    ).toEqual({
      host: 'db.internal',
      port: 6432,
      database: 'shop',
      user: 'app',
      schema: 'sales',
      connectionString: 'postgres://app:s%40cret@db.internal:6432/shop?sslmode=require',
    });
  });

  it('leaves out what the URL does not say (pg fills in its defaults)', () => {
    expect(parsePostgresUrl('postgresql://localhost')).toEqual({
      host: 'localhost',
      port: undefined,
      database: undefined,
      user: undefined,
      schema: undefined,
      connectionString: 'postgresql://localhost',
    });
  });

  it('reads socket directories, IPv6 hosts and percent-encoded names', () => {
    const socket = parsePostgresUrl('postgres:///app?host=/var/run/postgresql&schema=a%20b');
    expect(socket.host).toBe('/var/run/postgresql');
    expect(socket.database).toBe('app');
    expect(socket.schema).toBe('a b');
    // Passed through byte for byte: pg decodes it itself.
    expect(socket.connectionString).toBe('postgres:///app?host=/var/run/postgresql');
    expect(parsePostgresUrl('postgres://app:pw@/shop?host=/tmp')).toMatchObject({
      host: '/tmp',
      database: 'shop',
      user: 'app',
      connectionString: 'postgres://app:pw@/shop?host=/tmp',
    });
    expect(parsePostgresUrl('POSTGRES://u@[::1]:5433/my%20db')).toMatchObject({
      host: '::1',
      port: 5433,
      database: 'my db',
      user: 'u',
    });
  });

  it('rejects what is not a usable PostgreSQL URL, without echoing the password', () => {
    expect(() => parsePostgresUrl('mysql://localhost/x')).toThrow(UsageError);
    expect(() => parsePostgresUrl('postgres://localhost/x?schema=')).toThrow(/schema= is empty/);
    try {
      parsePostgresUrl('postgres://u:hunter2@host:99999/db');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).not.toContain('hunter2');
    }
  });

  it('recognises both schemes in any case', () => {
    expect(isPostgresUrl('postgres://x')).toBe(true);
    expect(isPostgresUrl('PostgreSQL://x')).toBe(true);
    expect(isPostgresUrl('postgresx://x')).toBe(false);
  });
});

describe('displayPostgresUrl', () => {
  it('removes the password and keeps everything else', () => {
    expect(displayPostgresUrl('postgres://app:secret@db:5432/shop?schema=sales')).toBe(
      'postgres://app@db:5432/shop?schema=sales',
    );
    expect(displayPostgresUrl('postgres://db/shop')).toBe('postgres://db/shop');
  });

  it('removes password parameters and passwords in URLs that do not parse', () => {
    expect(displayPostgresUrl('postgres://db/shop?user=a&password=secret&sslmode=require')).toBe(
      'postgres://db/shop?user=a&sslmode=require',
    );
    expect(displayPostgresUrl('postgres://app:secret@db:notaport/shop')).toBe(
      'postgres://app@db:notaport/shop',
    );
    expect(displayPostgresUrl('postgres://app:secret@/shop?host=/tmp')).toBe(
      'postgres://app@/shop?host=/tmp',
    );
  });

  it('removes passwords with unencoded URL characters (a common typo) from URLs that do not parse', () => {
    // `/`, `#` and `?` in a password must be percent-encoded; users often forget, and the URL then
    // fails to parse — the error message quoting it must still not show the password.
    expect(displayPostgresUrl('postgres://app:se/cret@db/shop')).toBe('postgres://app@db/shop');
    expect(displayPostgresUrl('postgres://app:p#ss@db:5432/shop')).toBe('postgres://app@db:5432/shop');
    expect(displayPostgresUrl('postgres://app:a?b@c@db/shop')).toBe('postgres://app@db/shop');
    expect(() => parsePostgresUrl('postgres://app:se/cret@db/shop')).toThrow(/postgres:\/\/app@db\/shop/);
    expect(() => parsePostgresUrl('postgres://app:se/cret@db/shop')).not.toThrow(/cret/);
  });
});

describe('connection failure messages', () => {
  const err = (code: string, message = code) => Object.assign(new Error(message), { code });

  it('says why in plain words', () => {
    expect(connectFailureReason(err('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'), 10_000)).toBe(
      'connection refused',
    );
    expect(connectFailureReason(err('ENOTFOUND'), 10_000)).toBe('host not found');
    expect(connectFailureReason(new Error('Connection terminated unexpectedly'), 500, true)).toBe(
      'timed out after 500 ms',
    );
    expect(connectFailureReason(new Error('timeout expired'), 500)).toBe('timed out after 500 ms');
    expect(connectFailureReason(new Error('Connection terminated unexpectedly'), 500)).toBe(
      'the connection was closed during the handshake',
    );
    const refusedTwice = Object.assign(new AggregateError([err('ECONNREFUSED'), err('ECONNREFUSED')]), {});
    expect(connectFailureReason(refusedTwice, 10_000)).toBe('connection refused');
  });

  it("passes the server's own messages through, on one line", () => {
    expect(connectFailureReason(err('28P01', 'password authentication failed for user "app"'), 10_000)).toBe(
      'password authentication failed for user "app"',
    );
    expect(connectFailureReason(err('3D000', 'database "nope" does not exist\nDETAIL: x'), 10_000)).toBe(
      'database "nope" does not exist',
    );
  });

  it('is a ConnectionError naming host, port and database, with the driver error as cause', () => {
    const cause = err('ECONNREFUSED');
    const e = connectionError({ host: '127.0.0.1', port: 1, database: 'app' }, cause, 10_000);
    expect(e).toBeInstanceOf(ConnectionError);
    expect(e.message).toBe('cannot connect to PostgreSQL at 127.0.0.1:1/app: connection refused');
    expect(e.cause).toBe(cause);
    expect(e.details).toEqual({ host: '127.0.0.1', port: 1, database: 'app' });
  });
});

describe('connecting to something that never answers', () => {
  it('times out with one line naming where', async () => {
    // Accepts the TCP connection and then says nothing, like a firewalled or hung server.
    const silent = net.createServer(() => {}).listen(0, '127.0.0.1');
    await new Promise((resolve) => silent.once('listening', resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const started = Date.now();
      const err = await openPostgresConnection(`postgres://u:pw@127.0.0.1:${port}/app`, {
        connectTimeoutMs: 200,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConnectionError);
      expect((err as Error).message).toBe(
        `cannot connect to PostgreSQL at 127.0.0.1:${port}/app: timed out after 200 ms`,
      );
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      silent.close();
    }
  });
});
