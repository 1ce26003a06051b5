import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { backoffDelay, defaultLockHolder } from './backoff.js';

describe('backoffDelay', () => {
  it('doubles from the initial delay up to the cap, with half of it random', () => {
    for (let i = 0; i < 200; i++) {
      const first = backoffDelay(0, 25, 250);
      expect(first).toBeGreaterThanOrEqual(12.5);
      expect(first).toBeLessThanOrEqual(25);
      const third = backoffDelay(2, 25, 250);
      expect(third).toBeGreaterThanOrEqual(50);
      expect(third).toBeLessThanOrEqual(100);
      const capped = backoffDelay(20, 25, 250);
      expect(capped).toBeGreaterThanOrEqual(125);
      expect(capped).toBeLessThanOrEqual(250);
    }
  });
});

describe('defaultLockHolder', () => {
  it('names the host and process', () => {
    expect(defaultLockHolder()).toContain(`${os.hostname()} pid ${process.pid}`);
  });
});
