import { afterAll, describe, expect, it } from 'vitest';
import { type CliResult, describeRun, parseJsonOutput } from '../helpers/cli.js';
import {
  copySamplePlugin,
  createProject,
  type Project,
  removeTempDirs,
  sqlMigration,
} from '../helpers/project.js';

afterAll(removeTempDirs);

interface JsonError {
  name: string;
  code: string;
  category: string;
  message: string;
  details?: Record<string, unknown>;
}
type JsonDoc = Record<string, unknown> & { ok?: boolean; error?: JsonError };

async function json(project: Project, args: string[], expectedCode: number): Promise<JsonDoc> {
  const full = [...args, '--json'];
  const result: CliResult = await project.run(full);
  expect(result.code, describeRun(full, result)).toBe(expectedCode);
  // stdout is exactly one JSON document: JSON.parse rejects anything before or after it.
  return parseJsonOutput<JsonDoc>(result);
}

function expectFailure(doc: JsonDoc, code: string): void {
  expect(doc.ok).toBe(false);
  expect(doc.error?.code).toBe(code);
  expect(typeof doc.error?.message).toBe('string');
  expect(['input', 'safety', 'failure']).toContain(doc.error?.category);
}

describe('i. --json prints one JSON document for status/plan/up/validate/history, also on failure', () => {
  it('on success', async () => {
    const project = copySamplePlugin();

    const status = await json(project, ['status'], 0);
    expect(status.pluginId).toBe('sample');
    expect(status.counts).toMatchObject({ pending: 5, applied: 0 });

    const plan = await json(project, ['plan'], 0);
    expect(plan.direction).toBe('up');
    expect((plan.migrations as unknown[]).length).toBe(5);

    const up = await json(project, ['up'], 0);
    expect(up.ok).toBe(true);
    expect(up.dryRun).toBe(false);
    const results = up.results as Array<{ migrationId: string; status: string }>;
    expect(results.map((r) => [r.migrationId, r.status])).toEqual([
      ['0001_create_entries', 'applied'],
      ['0002_add_tags', 'applied'],
      ['0003_seed_categories', 'applied'],
      ['0004_entry_slugs', 'applied'],
      ['0005_entry_revisions', 'applied'],
    ]);

    const again = await json(project, ['up'], 0);
    expect(again.ok).toBe(true);
    expect(again.results).toEqual([]);

    const validate = await json(project, ['validate'], 0);
    expect(validate).toMatchObject({ ok: true, pluginId: 'sample', checked: 5, drift: [] });

    const history = await json(project, ['history'], 0);
    expect(history.pluginId).toBe('sample');
    expect((history.migrations as unknown[]).length).toBe(5);
    expect((history.executions as unknown[]).length).toBeGreaterThanOrEqual(1);
  });

  it('on bad input (exit 2), for every command', async () => {
    const project = copySamplePlugin();
    project.write('0004_broken.json', '{ "format": "portable-migration-v1", "migration": { "id": \n');
    for (const command of ['status', 'plan', 'up', 'validate']) {
      const doc = await json(project, [command], 2);
      expectFailure(doc, 'E_INVALID_JSON');
      expect(doc.error?.message).toContain('0004_broken.json');
    }
    // history reads the database, not the files: give it bad usage instead (a --limit that is no number).
    expectFailure(await json(project, ['history', '--limit', 'many'], 2), 'E_USAGE');
  });

  it('on a failed migration (exit 1) and on drift (exit 3)', async () => {
    const project = createProject({
      '0001_fine.sql': sqlMigration('CREATE TABLE fine (id INTEGER PRIMARY KEY);'),
      '0002_fails.sql': sqlMigration('INSERT INTO nope VALUES (1);'),
    });
    const failed = await json(project, ['up'], 1);
    expectFailure(failed, 'E_STEP_FAILED');
    // Partial progress is reported: the first one applied, the second failed.
    const results = failed.results as Array<{ migrationId: string; status: string }>;
    expect(results.map((r) => [r.migrationId, r.status])).toEqual([
      ['0001_fine', 'applied'],
      ['0002_fails', 'failed'],
    ]);

    project.remove('0002_fails.sql');
    project.write('0001_fine.sql', sqlMigration('CREATE TABLE fine (id INTEGER PRIMARY KEY, v TEXT);'));
    const drift = await json(project, ['validate'], 3);
    expect(drift.ok).toBe(false);
    expect(drift.drift ?? drift.error?.details).toBeDefined();
    expect(JSON.stringify(drift)).toContain('0001_fine');
    expectFailure(await json(project, ['up'], 3), 'E_DRIFT');
  });
});
