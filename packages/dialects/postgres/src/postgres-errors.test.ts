import { ConnectionError, type ErrorClass, MigrationFailedError } from '@cmpkg/core';
import { describe, expect, it } from 'vitest';
import {
  classifyPostgresError,
  classifySqlState,
  isConnectionLoss,
  PostgresStatementTimeoutError,
  PostgresTransactionLostError,
} from './postgres-errors.js';

/** Shaped like pg's DatabaseError: the SQLSTATE is in `code`. */
const pgError = (code: string, message = `error ${code}`) => Object.assign(new Error(message), { code });

describe('classifyPostgresError', () => {
  it.each<[string, ErrorClass]>([
    ['40001', 'transient'],
    ['40P01', 'transient'],
    ['55P03', 'transient'],
    ['57P01', 'transient'],
    ['57P02', 'transient'],
    ['57P03', 'transient'],
    ['08006', 'transient'],
    ['08003', 'transient'],
    ['57014', 'timeout'],
    ['23505', 'constraint'],
    ['23503', 'constraint'],
    ['23502', 'constraint'],
    ['23514', 'constraint'],
    ['42501', 'permission'],
    ['25006', 'permission'],
    ['42601', 'syntax'],
    ['42P01', 'syntax'],
    ['42703', 'syntax'],
    // Data exceptions are the rows' fault, like integrity violations.
    ['22012', 'constraint'],
    ['22001', 'constraint'],
    ['22003', 'constraint'],
    ['22P02', 'constraint'],
    ['22007', 'constraint'],
    ['XX000', 'unknown'],
  ])('SQLSTATE %s is %s', (code, expected) => {
    expect(classifyPostgresError(pgError(code))).toBe(expected);
    expect(classifySqlState(code)).toBe(expected);
  });

  it('treats dropped connections as transient', () => {
    expect(classifyPostgresError(pgError('ECONNRESET', 'read ECONNRESET'))).toBe('transient');
    expect(classifyPostgresError(pgError('EPIPE', 'write EPIPE'))).toBe('transient');
    expect(classifyPostgresError(new Error('Connection terminated unexpectedly'))).toBe('transient');
    expect(classifyPostgresError(new Error('Connection terminated'))).toBe('transient');
    expect(
      classifyPostgresError(new Error('Client has encountered a connection error and is not queryable')),
    ).toBe('transient');
  });

  it('walks cause chains', () => {
    const wrapped = new MigrationFailedError('E_STEP_FAILED', 'step failed', {
      cause: new Error('kysely', { cause: pgError('23505') }),
    });
    expect(classifyPostgresError(wrapped)).toBe('constraint');
    expect(classifyPostgresError(new Error('outer', { cause: pgError('40P01') }))).toBe('transient');
  });

  it("classifies the dialect's own errors", () => {
    expect(classifyPostgresError(new PostgresStatementTimeoutError(300, 305, pgError('57014')))).toBe(
      'timeout',
    );
    // Retrying cannot bring a lost transaction back.
    expect(classifyPostgresError(new PostgresTransactionLostError(new Error('Connection terminated')))).toBe(
      'unknown',
    );
  });

  it('treats a failed (re)connect as final, whatever its cause', () => {
    const err = new ConnectionError('lost lock', { cause: pgError('55P03') });
    expect(classifyPostgresError(err)).toBe('unknown');
  });

  it('knows nothing about other values', () => {
    expect(classifyPostgresError(new Error('boom'))).toBe('unknown');
    expect(classifyPostgresError('boom')).toBe('unknown');
    expect(classifyPostgresError(null)).toBe('unknown');
    expect(classifyPostgresError(pgError('SQLITE_BUSY'))).toBe('unknown');
  });

  it('stops at a bounded depth on cyclic causes', () => {
    const a: { cause?: unknown; message: string } = { message: 'a' };
    a.cause = a;
    expect(classifyPostgresError(a)).toBe('unknown');
  });
});

describe('isConnectionLoss', () => {
  it('tells a dead session from a failed statement', () => {
    expect(isConnectionLoss(pgError('57P01'))).toBe(true);
    expect(isConnectionLoss(pgError('08006'))).toBe(true);
    expect(isConnectionLoss(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionLoss(pgError('ECONNRESET'))).toBe(true);
    expect(isConnectionLoss(pgError('EPIPE'))).toBe(true);
    expect(isConnectionLoss(pgError('40P01'))).toBe(false);
    expect(isConnectionLoss(pgError('57014'))).toBe(false);
    expect(isConnectionLoss(new Error('boom'))).toBe(false);
  });
});

describe('PostgresStatementTimeoutError', () => {
  it('is a driver-level error carrying the server error', () => {
    const cause = pgError('57014', 'canceling statement due to user request');
    const err = new PostgresStatementTimeoutError(300, 312, cause);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('PostgresStatementTimeoutError');
    expect(err.cause).toBe(cause);
    expect(err.message).toContain('300 ms');
  });
});
