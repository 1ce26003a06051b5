import { describe, expect, it } from 'vitest';
import {
  ADVISORY_LOCK_CLASS_ID,
  advisoryLockKey,
  describeLockHolder,
  lockApplicationName,
} from './postgres-lock.js';

describe('advisory lock keys', () => {
  it('are stable, non-negative int4 values under the cmpkg class id', () => {
    const key = advisoryLockKey('cmpkg');
    expect(key).toEqual(advisoryLockKey('cmpkg'));
    expect(key.classId).toBe(ADVISORY_LOCK_CLASS_ID);
    expect(Buffer.from([0x63, 0x6d, 0x70, 0x6b]).readInt32BE()).toBe(ADVISORY_LOCK_CLASS_ID);
    for (const name of ['cmpkg', 'other', '', 'ünïcödé', 'x'.repeat(1000)]) {
      const { objId } = advisoryLockKey(name);
      expect(Number.isInteger(objId) && objId >= 0 && objId <= 0x7fffffff).toBe(true);
    }
    expect(advisoryLockKey('a').objId).not.toBe(advisoryLockKey('b').objId);
    // FNV-1a of "cmpkg": pinned so that two versions of cmpkg always meet at the same lock.
    expect(key.objId).toBe(2011558713);
  });
});

describe('lockApplicationName', () => {
  it('prefixes cmpkg, keeps printable ASCII and fits in 63 bytes', () => {
    expect(lockApplicationName('deploy@ci')).toBe('cmpkg: deploy@ci');
    expect(lockApplicationName('zoë\n')).toBe('cmpkg: zo??');
    const long = lockApplicationName('x'.repeat(100));
    expect(Buffer.byteLength(long)).toBe(63);
    expect(long.startsWith('cmpkg: xxx')).toBe(true);
  });
});

describe('describeLockHolder', () => {
  it('names the holder as the server shows it', () => {
    expect(
      describeLockHolder({
        pid: 4242,
        applicationName: 'cmpkg: deploy@ci',
        user: 'app',
        clientAddress: '10.0.0.7',
        since: '2025-01-02T03:04:05.000Z',
      }),
    ).toBe(
      'cmpkg: deploy@ci (pid 4242, user app, client 10.0.0.7, connected since 2025-01-02T03:04:05.000Z)',
    );
    expect(describeLockHolder({ pid: 7, applicationName: '' })).toBe(
      'a session without application_name (pid 7, local socket)',
    );
  });
});
