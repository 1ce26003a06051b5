import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HistoryStore } from '@cmpkg/core';
import { SqliteDialect } from '@cmpkg/dialect-sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { installPackage } from './install.js';
import { failureOf, withTmpdir } from './testing/fixtures.js';
import { buildHostileCorpus, type HostileCase } from './testing/hostile-corpus.js';

// The reader's corpus again, this time through installPackage against a database that already holds
// a host's table and the plugin the package requires: every archive must be refused with the reader's code, and the database and the
// temporary directory must be exactly as they were.
const work = mkdtempSync(join(tmpdir(), 'cmpkg-hostile-install-'));
mkdirSync(join(work, 'archives'));
const corpus = await buildHostileCorpus(work);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

const dialect = new SqliteDialect();

/** Every table with its rows, in a stable order. */
async function fingerprint(url: string): Promise<string> {
  const conn = await dialect.connect(url, { readOnly: true });
  try {
    const { rows: tables } = await conn.execute(
      "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name",
    );
    const parts: unknown[] = [];
    for (const t of tables) {
      const { rows } = await conn.execute(`SELECT * FROM "${String(t.name)}" ORDER BY 1`);
      parts.push(t, rows);
    }
    return JSON.stringify(parts);
  } finally {
    await conn.close();
  }
}

async function hostDatabase(): Promise<string> {
  const url = `sqlite:${join(mkdtempSync(join(work, 'db-')), 'host.db')}`;
  const conn = await dialect.connect(url);
  try {
    await conn.execute('CREATE TABLE host_orders (id INTEGER PRIMARY KEY, total TEXT NOT NULL)');
    await conn.execute("INSERT INTO host_orders VALUES (1, '9.99'), (2, '120.00')");
    // What the corpus's package requires is installed, so the archive is the only thing in the way.
    const history = new HistoryStore(conn);
    await history.ensureTables();
    await history.writePlugin('base-plugin', '1.4.0');
  } finally {
    await conn.close();
  }
  return url;
}

describe('hostile archives through installPackage', () => {
  it('control: the valid package verifies and plans against the same kind of database', async () => {
    // A dry run: the corpus's data rows were exported from a schema of their own, so only the
    // stages an archive can fail at (verify, trust, requires, plan) are the point here.
    const url = await hostDatabase();
    const conn = await dialect.connect(url);
    try {
      const result = await installPackage({ package: corpus.valid, dialect, connection: conn, dryRun: true });
      expect(result.error).toBeUndefined();
      expect(result.action).toBe('install');
      expect(result.plan?.migrations.length).toBeGreaterThan(0);
    } finally {
      await conn.close();
    }
  });

  it.each(corpus.cases.map((c) => [c.code, c.name, c] as const))(
    '%s: %s — refused, database and temp dir untouched',
    async (_code, _name, c: HostileCase) => {
      const file = await c.build(join(work, 'archives'));
      const url = await hostDatabase();
      const before = await fingerprint(url);
      const conn = await dialect.connect(url);
      try {
        const trustKey = c.options?.trustedKeys?.[0];
        const { dir, result } = await withTmpdir(() =>
          failureOf(
            installPackage({
              package: file,
              dialect,
              connection: conn,
              ...(trustKey ? { trustKey } : {}),
              ...(c.options?.expect ? { expect: c.options.expect } : {}),
            }),
          ),
        );
        expect(result.code, result.message).toBe(c.code);
        expect(readdirSync(dir)).toEqual([]);
      } finally {
        await conn.close();
        rmSync(file, { force: true });
      }
      expect(await fingerprint(url)).toBe(before);
    },
    60_000,
  );
});
