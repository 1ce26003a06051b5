import { UsageError } from '@cmpkg/core';
import { describe, expect, it } from 'vitest';
import { dialectFor, redactUrl } from './dialects.js';

describe('dialectFor', () => {
  it.each([
    ['sqlite:./app.db', 'sqlite'],
    ['SQLITE::memory:', 'sqlite'],
    ['postgres://localhost/app', 'postgresql'],
    ['postgresql://u@localhost:5432/app', 'postgresql'],
    ['mysql://root@localhost/app', 'mysql'],
    ['mariadb://root@localhost:3306/app', 'mysql'],
  ])('serves %s with the %s dialect', async (url, engine) => {
    expect((await dialectFor(url)).engine).toBe(engine);
  });

  it('names an unknown URL, without its password', async () => {
    await expect(dialectFor('oracle://scott:tiger@db/x')).rejects.toThrow(UsageError);
    await expect(dialectFor('oracle://scott:tiger@db/x')).rejects.toThrow(
      'unsupported database URL "oracle://scott:***@db/x"',
    );
    await expect(dialectFor('./app.db')).rejects.toThrow('unsupported database URL "./app.db"');
  });
});

describe('redactUrl', () => {
  it('hides passwords and leaves the rest', () => {
    expect(redactUrl('mysql://root:pw@localhost:3306/x')).toBe('mysql://root:***@localhost:3306/x');
    expect(redactUrl('mysql://root@localhost/x')).toBe('mysql://root@localhost/x');
    expect(redactUrl('sqlite:./a.db')).toBe('sqlite:./a.db');
  });
});
