import { join } from 'node:path';
import type { TransformRunner } from '@cmpkg/core';
import { DataTransferError } from '@cmpkg/core';
import type { ProgressEvent } from './progress.js';
import type { TransformRegistry } from './registry.js';
import { runTransform } from './run-transform.js';

/**
 * Options of {@link createTransformRunner}.
 *
 * @example
 * const options: TransformRunnerOptions = { onError: 'reject', rejectDirectory: './rejects' };
 */
export interface TransformRunnerOptions {
  registry?: TransformRegistry;
  onError?: 'abort' | 'reject';
  /** Where `reject` writes `<jobId>.rejects.ndjson` (default: the working directory). */
  rejectDirectory?: string;
  onProgress?: (event: ProgressEvent) => void;
}

/**
 * The runner of `transform` steps for core's `Migrator`. Inside the migration's transaction
 * (the connection is in a transaction) the transform runs in it; otherwise a `transactional` step gets one
 * transaction of its own, and a step with `transactional: false` commits and checkpoints every
 * batch under the step's job id, so a re-run migration resumes the step where it stopped.
 *
 * @example
 * const migrator = new Migrator({ dialect, connection, plugin, transformRunner: createTransformRunner() });
 * await migrator.up();
 */
export function createTransformRunner(options: TransformRunnerOptions = {}): TransformRunner {
  return {
    async run(step, ctx) {
      const spec = step.transform;
      if (!spec) {
        throw new DataTransferError('E_MAPPING', `step "${step.id}" has no transform`, {
          details: { step: step.id },
        });
      }
      const onError = options.onError ?? 'abort';
      const result = await runTransform(spec, {
        source: { dialect: ctx.dialect, connection: ctx.connection },
        commit: step.transactional ? 'end' : 'batch',
        jobId: ctx.jobId,
        signal: ctx.signal,
        onError,
        ...(onError === 'reject'
          ? {
              rejectFile: join(
                options.rejectDirectory ?? process.cwd(),
                `${ctx.jobId.replace(/[^A-Za-z0-9._-]+/g, '_')}.rejects.ndjson`,
              ),
            }
          : {}),
        ...(options.registry ? { registry: options.registry } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
      return { rowsAffected: result.rowsWritten };
    },
  };
}
