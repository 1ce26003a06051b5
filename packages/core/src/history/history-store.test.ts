import os from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { defaultUser } from './history-store.js';

describe('defaultUser', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('is the OS user', () => {
    vi.spyOn(os, 'userInfo').mockReturnValue({ username: 'alice' } as os.UserInfo<string>);
    expect(defaultUser()).toBe('alice');
  });

  it('falls back to $USER, then "unknown", when the uid has no passwd entry', () => {
    vi.spyOn(os, 'userInfo').mockImplementation(() => {
      throw new Error('ENOENT: no such file or directory, uv_os_get_passwd');
    });
    vi.stubEnv('USER', 'bob');
    expect(defaultUser()).toBe('bob');
    vi.stubEnv('USER', undefined);
    expect(defaultUser()).toBe('unknown');
  });
});
