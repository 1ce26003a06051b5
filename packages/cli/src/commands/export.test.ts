import path from 'node:path';
import { SqliteDialect } from '@cmpkg/dialect-sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, tempProject } from '../test-support.js';

let project: { dir: string; cleanup: () => Promise<void> };

beforeEach(async () => {
  project = await tempProject();
  const conn = await new SqliteDialect().connect(`sqlite:${path.join(project.dir, 'app.db')}`);
  try {
    await conn.execute('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    await conn.execute(`INSERT INTO notes VALUES (1, 'one'), (2, 'two; "quoted"'), (3, 'three')`);
  } finally {
    await conn.close();
  }
});
afterEach(async () => {
  await project.cleanup();
});

describe('cmpkg export --out - (in-process)', () => {
  it("writes the rows to the caller's stdout stream and the summary to stderr", async () => {
    const result = await runCli(['export', '--db', 'sqlite:./app.db', '--tables', 'notes', '--out', '-'], {
      cwd: project.dir,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(
      result.stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { id: 1, body: 'one' },
      { id: 2, body: 'two; "quoted"' },
      { id: 3, body: 'three' },
    ]);
    expect(result.stderr).toBe('exported 3 rows of notes\n');
  });

  it('refuses --json with --out - before opening the database', async () => {
    const result = await runCli(
      ['export', '--db', 'sqlite:./missing.db', '--tables', 'notes', '--out', '-', '--json'],
      { cwd: project.dir },
    );
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, error: { code: 'E_USAGE' } });
  });
});
