import { UsageError } from '@cmpkg/core';
import { describe, expect, it } from 'vitest';
import { dialectFor, redactUrl } from './dialects.js';

describe('dialectFor', () => {
  it('serves sqlite: URLs with the SQLite dialect', () => {
    expect(dialectFor('sqlite:./app.db').engine).toBe('sqlite');
    expect(dialectFor('SQLITE::memory:').engine).toBe('sqlite');
  });

  it.each([
    ['postgres://localhost/app', 'PostgreSQL', '@cmpkg/dialect-postgres'],
    ['postgresql://localhost/app', 'PostgreSQL', '@cmpkg/dialect-postgres'],
    ['mysql://localhost/app', 'MySQL', '@cmpkg/dialect-mysql'],
  ])('says the dialect of %s is not installed yet', (url, engine, pkg) => {
    expect(() => dialectFor(url)).toThrow(UsageError);
    expect(() => dialectFor(url)).toThrow(`the ${engine} dialect is not installed yet (${pkg})`);
  });

  it('names an unknown URL, without its password', () => {
    expect(() => dialectFor('oracle://scott:tiger@db/x')).toThrow(
      'unsupported database URL "oracle://scott:***@db/x"',
    );
    expect(() => dialectFor('./app.db')).toThrow('unsupported database URL "./app.db"');
  });

  it('never shows the password of a not-installed dialect either', () => {
    expect(() => dialectFor('postgres://u:secret@h/db')).toThrow('postgres://u:***@h/db');
    expect(() => dialectFor('postgres://u:secret@h/db')).not.toThrow(/secret/);
  });
});

describe('redactUrl', () => {
  it('replaces passwords only', () => {
    expect(redactUrl('mysql://root:pw@localhost:3306/x')).toBe('mysql://root:***@localhost:3306/x');
    expect(redactUrl('mysql://root@localhost/x')).toBe('mysql://root@localhost/x');
    expect(redactUrl('sqlite:./a.db')).toBe('sqlite:./a.db');
  });
});
