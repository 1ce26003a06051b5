import { join } from 'node:path';
import type { CopyReport } from '@cmpkg/transform';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cliIsBuilt,
  describeRun,
  parseJsonOutput,
  type RunningCli,
  runCli,
  startCli,
} from '../helpers/cli.js';
import { query } from '../helpers/db.js';
import { createProject, type Project, removeTempDirs } from '../helpers/project.js';

afterAll(removeTempDirs);

const ROWS = 400_000;

/** A source big enough that a copy in batches of 2,000 is still running when it is stopped. */
function createSource(file: string): void {
  const db = new Database(file);
  db.exec(`
    CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, payload TEXT, score DOUBLE);
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${ROWS})
    INSERT INTO events SELECT i, 'k' || (i % 7), printf('payload %08d with some text', i), i * 0.5 FROM n;
  `);
  db.close();
}

async function waitForCommittedBatch(target: string, cli: RunningCli): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (cli.child.exitCode !== null)
      throw new Error(`the copy ended before it was stopped: ${cli.output().stderr}`);
    try {
      const rows = query(target, 'SELECT max(rows_done) AS n FROM cmpkg_checkpoints') as Array<{
        n: number | null;
      }>;
      if ((rows[0]?.n ?? 0) > 0) return;
    } catch {
      // The target or its checkpoint table does not exist yet.
    }
    await new Promise((r) => setTimeout(r, 15));
  }
  throw new Error('no batch was committed within 30 s');
}

describe('cmpkg copy stopped part-way', () => {
  let project: Project;

  beforeAll(() => {
    if (!cliIsBuilt()) throw new Error('build the CLI first (pnpm build)');
  });

  for (const [how, signal] of [
    ['Ctrl-C (SIGINT)', 'SIGINT'],
    ['a kill (SIGKILL)', 'SIGKILL'],
  ] as const) {
    it(`resumes after ${how} with every row exactly once`, async () => {
      project = createProject({}, 'copy-interrupt');
      const source = join(project.dir, 'source.db');
      const target = join(project.dir, 'target.db');
      createSource(source);
      const args = [
        'copy',
        '--from',
        'sqlite:./source.db',
        '--to',
        'sqlite:./target.db',
        '--batch-size',
        '2000',
      ];

      const first = startCli(args, { cwd: project.dir });
      await waitForCommittedBatch(target, first);
      first.child.kill(signal);
      const stopped = await first.done;

      if (signal === 'SIGINT') {
        expect(stopped.code, describeRun(args, stopped)).toBe(1);
        expect(stopped.stderr).toMatch(/E_INTERRUPTED/);
        expect(stopped.stderr).toMatch(
          /the copy was interrupted \(SIGINT\).*run the same command again to resume/,
        );
      } else {
        expect(stopped.signal).toBe('SIGKILL');
      }
      const partial = (query(target, 'SELECT count(*) AS n FROM events') as Array<{ n: number }>)[0]!.n;
      expect(partial).toBeGreaterThan(0);
      expect(partial).toBeLessThan(ROWS);

      const second = await runCli([...args, '--json'], { cwd: project.dir });
      expect(second.code, describeRun(args, second)).toBe(0);
      const report = parseJsonOutput<CopyReport>(second);
      expect(report.verified).toBe(true);
      expect(report.tables[0]).toMatchObject({ target: 'events', rows: ROWS, resumed: true, verified: true });

      const [stats] = query(
        target,
        'SELECT count(*) AS n, count(DISTINCT id) AS ids, sum(id) AS total, min(id) AS lo, max(id) AS hi FROM events',
      ) as Array<{ n: number; ids: number; total: number; lo: number; hi: number }>;
      expect(stats).toEqual({ n: ROWS, ids: ROWS, total: (ROWS * (ROWS + 1)) / 2, lo: 1, hi: ROWS });
      const [sample] = query(target, 'SELECT kind, payload, score FROM events WHERE id = 123457') as Array<
        Record<string, unknown>
      >;
      expect(sample).toEqual({ kind: 'k5', payload: 'payload 00123457 with some text', score: 61728.5 });
      // A finished copy leaves no checkpoints behind.
      const left = query(
        target,
        "SELECT name FROM sqlite_master WHERE name = 'cmpkg_checkpoints'",
      ) as unknown[];
      if (left.length > 0)
        expect(query(target, 'SELECT count(*) AS n FROM cmpkg_checkpoints')).toEqual([{ n: 0 }]);
    });
  }
});
