import { isCmpkgError } from '@cmpkg/core';
import { describe, expect, it } from 'vitest';
import { interruptible } from './transfer.js';

describe('interruptible', () => {
  it('turns SIGINT into an aborted signal and one E_INTERRUPTED error saying how to go on', async () => {
    const before = process.listenerCount('SIGINT');
    const run = interruptible('the import', 'nothing was written', (signal) => {
      return new Promise((_, reject) => {
        signal.addEventListener('abort', () => reject(new Error('stopped at the next batch')));
        process.emit('SIGINT', 'SIGINT');
      });
    });
    const err = await run.catch((e: unknown) => e);
    expect(isCmpkgError(err) && err.code).toBe('E_INTERRUPTED');
    expect((err as Error).message).toBe('the import was interrupted (SIGINT): nothing was written');
    expect(((err as Error).cause as Error).message).toBe('stopped at the next batch');
    // The handlers are gone again: a later Ctrl-C gets Node's default behaviour back.
    expect(process.listenerCount('SIGINT')).toBe(before);
  });

  it('passes results and other errors through untouched when no signal came', async () => {
    await expect(interruptible('x', 'y', async () => 42)).resolves.toBe(42);
    const boom = new Error('boom');
    await expect(
      interruptible('x', 'y', async () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
  });
});
