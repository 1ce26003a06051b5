import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay } from '../backoff.js';
import type { Connection, Dialect, ErrorClass } from '../dialect.js';
import { isCmpkgError, MigrationFailedError } from '../errors.js';
import type { StepContext } from '../model/types.js';
import type { PlannedMigration, PlannedStep, RetryOptions, StepResult, TransformRunner } from './types.js';

export interface StepRunnerOptions {
  conn: Connection;
  dialect: Dialect;
  retry: Required<RetryOptions>;
  transformRunner?: TransformRunner;
  onRetry: (error: MigrationFailedError, attempt: number) => void;
}

const truthy = (value: unknown): boolean => {
  if (value === null || value === undefined) return false;
  if (typeof value === 'string')
    return !['', '0', 'f', 'false', 'no', 'n'].includes(value.trim().toLowerCase());
  if (typeof value === 'bigint') return value !== 0n;
  if (value instanceof Uint8Array) return value.length > 0;
  return Boolean(value);
};

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Runs one planned step: validations, statements (or code / transform), expected changes, with
 * per-step timeouts and retries of transient errors. Inside a transaction each attempt is wrapped
 * in a savepoint, so a retry or a `skipOnError` step leaves nothing of the failed attempt behind.
 */
export class StepRunner {
  #savepoint = 0;
  constructor(private readonly options: StepRunnerOptions) {}

  /**
   * Runs a step. Outside a transaction, statements that have run stay run: a retry goes on from
   * the failing statement, `step.resumeAt` skips those an earlier run did, and `onStatement` hears
   * the count after each one so the caller can journal it.
   */
  async run(
    pm: PlannedMigration,
    step: PlannedStep,
    inTransaction: boolean,
    onStatement?: (statementsDone: number) => Promise<void>,
  ): Promise<StepResult> {
    const { conn, dialect, retry } = this.options;
    const useSavepoint = inTransaction && dialect.capabilities.savepoints;
    const started = performance.now();
    const progress = { next: inTransaction ? 0 : (step.resumeAt ?? 0), onStatement };
    for (let attempt = 1; ; attempt++) {
      const name = `cmpkg_step_${++this.#savepoint}`;
      if (useSavepoint) await conn.execute(`SAVEPOINT ${name}`);
      // A rolled-back attempt ran nothing; outside a transaction what ran stays run.
      if (inTransaction) progress.next = 0;
      try {
        const rowsAffected = await this.#attempt(pm, step, progress);
        if (useSavepoint) await conn.execute(`RELEASE SAVEPOINT ${name}`);
        return {
          stepId: step.id,
          status: 'done',
          rowsAffected,
          durationMs: performance.now() - started,
          attempts: attempt,
        };
      } catch (err) {
        if (useSavepoint) {
          await conn.execute(`ROLLBACK TO SAVEPOINT ${name}`);
          await conn.execute(`RELEASE SAVEPOINT ${name}`);
        }
        const failure = this.#wrap(err, pm, step);
        // A transient error inside a transaction that cannot be rolled back to a savepoint has
        // already doomed the transaction; retrying the step alone would be a lie.
        const retriable = failure.details.errorClass === 'transient' && (useSavepoint || !inTransaction);
        if (retriable && attempt < retry.attempts) {
          this.options.onRetry(failure, attempt);
          await sleep(backoffDelay(attempt - 1, retry.initialDelayMs, retry.maxDelayMs));
          continue;
        }
        if (step.skipOnError) {
          return {
            stepId: step.id,
            status: 'skipped',
            rowsAffected: 0,
            durationMs: performance.now() - started,
            attempts: attempt,
            error: failure.message,
          };
        }
        throw failure;
      }
    }
  }

  async #attempt(
    pm: PlannedMigration,
    step: PlannedStep,
    progress: { next: number; onStatement?: ((done: number) => Promise<void>) | undefined },
  ): Promise<number> {
    const { conn, dialect } = this.options;
    if (step.preValidation !== undefined) await this.#validate(pm, step, 'preValidation', step.preValidation);
    const countObjects =
      step.expectedChanges?.tables !== undefined || step.expectedChanges?.indexes !== undefined;
    const before = countObjects ? await dialect.countSchemaObjects(conn) : undefined;
    let rows = 0;
    if (step.kind === 'sql') {
      for (let i = progress.next; i < step.statements.length; i++) {
        try {
          const result = await conn.execute(
            step.statements[i]!,
            [],
            step.timeoutMs ? { timeoutMs: step.timeoutMs } : {},
          );
          rows += result.rowsAffected;
        } catch (err) {
          throw Object.assign(err instanceof Error ? err : new Error(String(err)), { cmpkgStatement: i + 1 });
        }
        progress.next = i + 1;
        await progress.onStatement?.(i + 1);
      }
    } else if (step.kind === 'code') {
      await this.#withTimeout(step, (signal) => {
        const ctx: StepContext = {
          db: conn.db,
          execute: (sql, params) => conn.execute(sql, params),
          engine: dialect.engine,
          signal,
        };
        return Promise.resolve(step.step.run!(ctx));
      });
    } else {
      const runner = this.options.transformRunner;
      if (!runner) throw new Error('no transform runner is installed');
      const result = await this.#withTimeout(step, (signal) =>
        runner.run(step.step, {
          connection: conn,
          dialect,
          signal,
          jobId: `${pm.pluginId}:${pm.id}:${step.id}`,
        }),
      );
      rows += result.rowsAffected;
    }
    if (step.postValidation !== undefined)
      await this.#validate(pm, step, 'postValidation', step.postValidation);
    const expected = step.expectedChanges;
    if (expected) {
      const problems: string[] = [];
      if (expected.rows !== undefined && expected.rows !== rows)
        problems.push(`rows: expected ${expected.rows}, got ${rows}`);
      if (before) {
        const after = await dialect.countSchemaObjects(conn);
        if (expected.tables !== undefined && after.tables - before.tables !== expected.tables) {
          problems.push(`tables: expected ${expected.tables}, got ${after.tables - before.tables}`);
        }
        if (expected.indexes !== undefined && after.indexes - before.indexes !== expected.indexes) {
          problems.push(`indexes: expected ${expected.indexes}, got ${after.indexes - before.indexes}`);
        }
      }
      if (problems.length > 0) {
        throw new MigrationFailedError(
          'E_EXPECTED_CHANGES',
          `migration "${pm.id}" step "${step.id}" did not make the expected changes (${problems.join('; ')})`,
          { details: { migration: pm.id, step: step.id, problems } },
        );
      }
    }
    return rows;
  }

  async #validate(pm: PlannedMigration, step: PlannedStep, which: string, query: string): Promise<void> {
    const { rows } = await this.options.conn.execute(query);
    const first = rows[0];
    const value = first ? Object.values(first)[0] : undefined;
    if (!truthy(value)) {
      throw new MigrationFailedError(
        'E_VALIDATION_FAILED',
        `migration "${pm.id}" step "${step.id}": ${which} failed (${query.trim()} returned ${first ? JSON.stringify(value) : 'no rows'})`,
        { details: { migration: pm.id, step: step.id, check: which, query } },
      );
    }
  }

  async #withTimeout<T>(step: PlannedStep, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    if (!step.timeoutMs) return body(controller.signal);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(Object.assign(new Error(`timed out after ${step.timeoutMs} ms`), { cmpkgTimeout: true }));
      }, step.timeoutMs);
    });
    try {
      return await Promise.race([body(controller.signal), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #wrap(err: unknown, pm: PlannedMigration, step: PlannedStep): MigrationFailedError {
    if (err instanceof MigrationFailedError) return err;
    if (isCmpkgError(err)) {
      return new MigrationFailedError(
        'E_STEP_FAILED',
        `migration "${pm.id}" step "${step.id}": ${err.message}`,
        {
          cause: err,
          details: { migration: pm.id, step: step.id, errorClass: 'unknown' },
        },
      );
    }
    const timedOut = typeof err === 'object' && err !== null && 'cmpkgTimeout' in err;
    const errorClass: ErrorClass = timedOut ? 'timeout' : this.options.dialect.classifyError(err);
    const statement =
      typeof err === 'object' && err !== null && 'cmpkgStatement' in err
        ? Number((err as { cmpkgStatement: unknown }).cmpkgStatement)
        : undefined;
    const where = `migration "${pm.id}" step "${step.id}"${statement && step.statements.length > 1 ? ` statement ${statement}` : ''}`;
    const sql = statement ? step.statements[statement - 1] : undefined;
    if (errorClass === 'timeout') {
      return new MigrationFailedError(
        'E_STEP_TIMEOUT',
        `${where} exceeded its timeout of ${(step.timeoutMs ?? 0) / 1000} s`,
        { cause: err, details: { migration: pm.id, step: step.id, statement, errorClass, sql } },
      );
    }
    return new MigrationFailedError('E_STEP_FAILED', `${where} failed: ${messageOf(err)}`, {
      cause: err,
      details: { migration: pm.id, step: step.id, statement, errorClass, sql, file: pm.file },
    });
  }
}
