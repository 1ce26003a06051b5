import { ConnectionError } from '@cmpkg/core';
import { describe, expect, it } from 'vitest';
import {
  classifyMysqlError,
  describeConnectError,
  MysqlReadOnlyError,
  MysqlStatementTimeoutError,
} from './mysql-errors.js';

/** A server error shaped like mysql2's. */
function serverError(errno: number, code = 'ER_SOMETHING', message = 'boom'): Error {
  return Object.assign(new Error(message), { errno, code, sqlState: 'HY000' });
}

describe('classifyMysqlError', () => {
  it.each([
    [1213, 'transient'],
    [1205, 'transient'],
    [1020, 'transient'],
    [2006, 'transient'],
    [2013, 'transient'],
    [2055, 'transient'],
    [1053, 'transient'],
    [1927, 'transient'],
    [1317, 'timeout'],
    [3024, 'timeout'],
    [1969, 'timeout'],
    [1062, 'constraint'],
    [1451, 'constraint'],
    [1452, 'constraint'],
    [1048, 'constraint'],
    [1364, 'constraint'],
    [3819, 'constraint'],
    [4025, 'constraint'],
    [1064, 'syntax'],
    [1054, 'syntax'],
    [1146, 'syntax'],
    [1049, 'syntax'],
    [1060, 'syntax'],
    [1061, 'syntax'],
    [1050, 'syntax'],
    [1044, 'permission'],
    [1045, 'permission'],
    [1142, 'permission'],
    [1143, 'permission'],
    [1227, 'permission'],
    [1792, 'permission'],
    // Values a column cannot hold, though their SQLSTATE is HY000 here.
    [1264, 'constraint'],
    [1265, 'constraint'],
    [1292, 'constraint'],
    [1365, 'constraint'],
    [1366, 'constraint'],
    [1406, 'constraint'],
    [1411, 'constraint'],
    [3140, 'constraint'],
    [1105, 'unknown'],
  ])('errno %i is %s', (errno, expected) => {
    expect(classifyMysqlError(serverError(errno))).toBe(expected);
  });

  it('classifies any other error of SQLSTATE class 22 or 23 as constraint', () => {
    const withState = (errno: number, sqlState: string) =>
      Object.assign(new Error('x'), { errno, code: 'ER_X', sqlState });
    expect(classifyMysqlError(withState(1690, '22003'))).toBe('constraint');
    expect(classifyMysqlError(withState(1169, '23000'))).toBe('constraint');
    expect(classifyMysqlError(withState(1105, 'HY000'))).toBe('unknown');
    // The errno lists come first: a deadlock stays transient whatever its SQLSTATE.
    expect(classifyMysqlError(withState(1213, '40001'))).toBe('transient');
  });

  it('classifies client-side codes of a broken connection as transient', () => {
    for (const code of ['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']) {
      expect(classifyMysqlError(Object.assign(new Error(code), { code, errno: -104 })), code).toBe(
        'transient',
      );
    }
    // ...but not a timeout while connecting, nor a refused connection.
    expect(classifyMysqlError(Object.assign(new Error('x'), { code: 'ETIMEDOUT', syscall: 'connect' }))).toBe(
      'unknown',
    );
    expect(classifyMysqlError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe('unknown');
    expect(
      classifyMysqlError(
        Object.assign(new Error("Can't add new command when connection is in closed state"), { fatal: true }),
      ),
    ).toBe('transient');
  });

  it('classifies its own errors', () => {
    expect(classifyMysqlError(new MysqlStatementTimeoutError(100, 120))).toBe('timeout');
    expect(classifyMysqlError({ code: 'CMPKG_MYSQL_TIMEOUT' })).toBe('timeout');
    expect(classifyMysqlError(new MysqlReadOnlyError('no'))).toBe('permission');
  });

  it('walks cause chains', () => {
    const wrapped = new Error('step failed', { cause: new Error('kysely', { cause: serverError(1213) }) });
    expect(classifyMysqlError(wrapped)).toBe('transient');
    const timeout = new MysqlStatementTimeoutError(100, 120, { cause: serverError(1317) });
    expect(classifyMysqlError(new Error('outer', { cause: timeout }))).toBe('timeout');
    // A connection error wrapping a refused connection is not worth retrying.
    expect(classifyMysqlError(new ConnectionError('x', { cause: { code: 'ECONNREFUSED' } }))).toBe('unknown');
  });

  it('is unknown for anything else', () => {
    expect(classifyMysqlError(new Error('plain'))).toBe('unknown');
    expect(classifyMysqlError('a string')).toBe('unknown');
    expect(classifyMysqlError(null)).toBe('unknown');
    expect(classifyMysqlError(undefined)).toBe('unknown');
  });
});

describe('describeConnectError', () => {
  const context = { timeoutMs: 2500, database: 'shop', user: 'app' };
  it('says what went wrong in a few words', () => {
    expect(describeConnectError({ code: 'ECONNREFUSED' }, context)).toBe('connection refused');
    expect(describeConnectError({ code: 'ETIMEDOUT' }, context)).toBe('timed out after 2500 ms');
    expect(
      describeConnectError(
        serverError(
          1045,
          'ER_ACCESS_DENIED_ERROR',
          "Access denied for user 'app'@'10.0.0.5' (using password: YES)",
        ),
        context,
      ),
    ).toBe("access denied for user 'app'@'10.0.0.5'");
    expect(
      describeConnectError(serverError(1049, 'ER_BAD_DB_ERROR', "Unknown database 'shop'"), context),
    ).toBe("unknown database 'shop'");
    expect(
      describeConnectError(serverError(1105, 'ER_UNKNOWN', 'Something odd.\nsecond line'), context),
    ).toBe('something odd');
  });
});

describe('MysqlStatementTimeoutError', () => {
  it('keeps the driver error as its cause', () => {
    const cause = serverError(1317);
    const err = new MysqlStatementTimeoutError(300, 305, { cause });
    expect(err.cause).toBe(cause);
    expect(err.message).toBe('statement stopped after 305 ms: it exceeded its 300 ms timeout');
    expect(err.code).toBe('CMPKG_MYSQL_TIMEOUT');
    expect(err.name).toBe('MysqlStatementTimeoutError');
  });
});
