import { describe, expect, it } from 'vitest';
import { asCmpkgError, InternalError, PlanError } from './errors.js';

describe('asCmpkgError', () => {
  it('returns a cmpkg error as it is', () => {
    const err = new PlanError('E_CYCLE', 'a -> b -> a');
    expect(asCmpkgError(err)).toBe(err);
  });

  it('wraps any other Error in an InternalError with its message and the error as the cause', () => {
    const cause = new TypeError('boom');
    const wrapped = asCmpkgError(cause);
    expect(wrapped).toBeInstanceOf(InternalError);
    expect(wrapped.code).toBe('E_INTERNAL');
    expect(wrapped.category).toBe('failure');
    expect(wrapped.message).toBe('boom');
    expect(wrapped.cause).toBe(cause);
  });

  it('wraps a thrown non-Error by its string form', () => {
    const wrapped = asCmpkgError(42);
    expect(wrapped).toBeInstanceOf(InternalError);
    expect(wrapped.message).toBe('42');
    expect(wrapped.cause).toBe(42);
  });
});
