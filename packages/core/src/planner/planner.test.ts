import { describe, expect, it } from 'vitest';
import { checksumMigration } from '../checksum.js';
import type { AppliedMigrationRecord } from '../engine/types.js';
import { type MigrationInput, MigrationSchema } from '../model/schema.js';
import type { Migration, Plugin } from '../model/types.js';
import { splitStatements } from '../sql/splitter.js';
import { MigrationPlanner, type PlannerDialect } from './planner.js';

// The planner is pure: it needs the engine name, the capability flags and a splitter, not a database.
const sqlite: PlannerDialect = {
  engine: 'sqlite',
  capabilities: {
    transactionalDdl: true,
    concurrentIndex: false,
    returning: true,
    savepoints: true,
    statementTimeout: false,
    partialIndexes: true,
    expressionIndexes: true,
  },
  splitStatements: (sql) => splitStatements(sql, { blockBodies: true }),
};

function migration(input: Partial<MigrationInput> & { id: string }): Migration {
  const data = MigrationSchema.parse({
    version: '1.0.0',
    name: input.id,
    steps: {
      up: [
        { id: 'up', name: 'up', sql: { universal: `CREATE TABLE ${input.id.replace(/\W/g, '_')} (id int)` } },
      ],
      down: [{ id: 'down', name: 'down', sql: { universal: 'SELECT 1' } }],
    },
    ...input,
  });
  const m = { ...data, pluginId: 'p', source: { file: `/m/${input.id}.json`, format: 'json' as const } };
  return { ...m, checksum: checksumMigration(m) };
}

function plugin(...migrations: Migration[]): Plugin {
  return { id: 'p', version: '1.0.0', migrations };
}

function applied(
  m: Migration,
  rank: number,
  status: AppliedMigrationRecord['status'] = 'applied',
): AppliedMigrationRecord {
  return {
    pluginId: m.pluginId,
    migrationId: m.id,
    version: m.version,
    name: m.name,
    checksum: m.checksum,
    status,
    appliedAt: '2024-01-01T00:00:00.000Z',
    appliedBy: 'me',
    executionMs: 1,
    engine: 'sqlite',
    installedRank: rank,
    packageDigest: null,
  };
}

const planner = (p: Plugin, history: AppliedMigrationRecord[] = []) =>
  new MigrationPlanner({ plugin: p, history, journal: [], dialect: sqlite });

describe('MigrationPlanner.planUp', () => {
  it('orders by dependencies, then version, then id', () => {
    const a = migration({ id: 'a', version: '2.0.0' });
    const b = migration({ id: 'b', version: '1.0.0', dependencies: ['a'] });
    const c = migration({ id: 'c', version: '1.0.0' });
    const plan = planner(plugin(b, a, c)).planUp();
    expect(plan.migrations.map((m) => m.id)).toEqual(['c', 'a', 'b']);
    expect(plan.toVersion).toBe('2.0.0');
  });

  it('names every migration of a dependency cycle', () => {
    const a = migration({ id: 'a', dependencies: ['c'] });
    const b = migration({ id: 'b', dependencies: ['a'] });
    const c = migration({ id: 'c', dependencies: ['b'] });
    expect(() => planner(plugin(a, b, c)).planUp()).toThrow(
      /dependency cycle: (a|b|c) -> (a|b|c) -> (a|b|c) -> \1/,
    );
  });

  it('rejects a missing dependency with file and field', () => {
    const a = migration({ id: 'a', dependencies: ['nope'] });
    expect(() => planner(plugin(a)).planUp()).toThrow(/\/m\/a\.json: migration "a" depends on "nope"/);
  });

  it('rejects a cross-plugin dependency that is not applied, accepts one that is', () => {
    const a = migration({ id: 'a', dependencies: ['other:x'] });
    expect(() => planner(plugin(a)).planUp()).toThrow(/not applied in this database/);
    const other = { ...applied(migration({ id: 'x' }), 1), pluginId: 'other' };
    expect(
      planner(plugin(a), [other])
        .planUp()
        .migrations.map((m) => m.id),
    ).toEqual(['a']);
  });

  it('rejects a conflict with an applied migration', () => {
    const a = migration({ id: 'a' });
    const b = migration({ id: 'b', conflicts: ['a'] });
    const error = (() => {
      try {
        planner(plugin(a, b), [applied(a, 1)]).planUp();
      } catch (e) {
        return e as Error & { code: string };
      }
    })();
    expect(error?.code).toBe('E_CONFLICT');
    expect(error?.message).toMatch(/"b" conflicts with "a"/);
  });

  it('refuses out-of-order pending migrations unless allowed', () => {
    const a = migration({ id: 'a', version: '1.0.0' });
    const b = migration({ id: 'b', version: '2.0.0' });
    const p = planner(plugin(a, b), [applied(b, 1)]);
    expect(() => p.planUp()).toThrow(/use --allow-out-of-order/);
    const plan = p.planUp({ allowOutOfOrder: true });
    expect(plan.migrations.map((m) => m.id)).toEqual(['a']);
    expect(plan.warnings.join()).toMatch(/out of order/);
  });

  it('skips migrations for other engines and rejects dependants that do not', () => {
    const pg = migration({ id: 'pg', databaseEngines: ['postgresql'] });
    const plan = planner(plugin(pg)).planUp();
    expect(plan.migrations[0]?.action).toBe('skip-engine');
    const dep = migration({ id: 'dep', dependencies: ['pg'] });
    expect(() => planner(plugin(pg, dep)).planUp()).toThrow(/does not run on sqlite/);
  });

  it('requires SQL for the engine and picks the engine key over universal', () => {
    const none = migration({
      id: 'none',
      steps: { up: [{ id: 'up', name: 'up', sql: { postgresql: 'SELECT 1' } }] },
    });
    expect(() => planner(plugin(none)).planUp()).toThrow(/has no SQL for sqlite/);
    const both = migration({
      id: 'both',
      steps: { up: [{ id: 'up', name: 'up', sql: { sqlite: 'SELECT 2; SELECT 3', universal: 'SELECT 1' } }] },
    });
    expect(planner(plugin(both)).planUp().migrations[0]?.steps[0]?.statements).toEqual([
      'SELECT 2',
      'SELECT 3',
    ]);
  });

  it('rejects a transform that uses an unknown built-in function, naming the field', () => {
    const step = (definition: string) => ({
      id: 'up',
      name: 'up',
      transform: {
        source: 'a',
        target: 'b',
        mapping: [
          { source: 'x', target: 'x' },
          { source: 'y', target: 'y', transform: { type: 'function', definition } },
        ],
      },
    });
    const bad = migration({ id: 'bad', steps: { up: [step('shout')] } });
    const withRunner = (p: Plugin) =>
      new MigrationPlanner({ plugin: p, history: [], journal: [], dialect: sqlite, canRunTransforms: true });
    let error: unknown;
    try {
      withRunner(plugin(bad)).planUp();
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({
      code: 'E_UNKNOWN_TRANSFORM',
      message: expect.stringMatching(/unknown function "shout"/),
      details: { field: 'migration.steps.up[0].transform.mapping[1].transform.definition' },
    });
    const good = migration({ id: 'good', steps: { up: [step('UPPER')] } });
    expect(withRunner(plugin(good)).planUp().migrations[0]?.steps[0]?.kind).toBe('transform');
  });

  it('resolves version, range and id targets', () => {
    const a = migration({ id: 'a', version: '1.0.0' });
    const b = migration({ id: 'b', version: '1.1.0' });
    const c = migration({ id: 'c', version: '2.0.0' });
    const p = planner(plugin(a, b, c));
    expect(p.planUp({ to: '1.0.0' }).migrations.map((m) => m.id)).toEqual(['a']);
    expect(p.planUp({ to: '^1' }).migrations.map((m) => m.id)).toEqual(['a', 'b']);
    expect(p.planUp({ to: 'b' }).migrations.map((m) => m.id)).toEqual(['a', 'b']);
    expect(() => p.planUp({ to: '^9' })).toThrow(/no migration version satisfies/);
    expect(() => p.planUp({ to: 'what?' })).toThrow(/unknown target/);
  });

  it('reports max risk, backup and lint findings', () => {
    const a = migration({ id: 'a', riskLevel: 'HIGH', requiresBackup: true, estimatedDuration: 3 });
    const b = migration({
      id: 'b',
      steps: { up: [{ id: 'up', name: 'up', sql: { universal: 'DROP TABLE old' } }] },
    });
    const plan = planner(plugin(a, b)).planUp();
    expect(plan.maxRisk).toBe('high');
    expect(plan.backupRequired).toBe(true);
    expect(plan.estimatedDuration).toBe(3);
    expect(plan.lint.map((l) => l.rule)).toEqual(
      expect.arrayContaining(['no-down-steps', 'destructive-drop-table']),
    );
  });
});

describe('MigrationPlanner.planDown', () => {
  const a = migration({ id: 'a', version: '1.0.0' });
  const b = migration({ id: 'b', version: '1.1.0' });
  const c = migration({ id: 'c', version: '2.0.0' });
  const history = [applied(a, 1), applied(b, 2), applied(c, 3)];

  it('rolls back the last one by default, N steps, to a version or id, or all', () => {
    const p = planner(plugin(a, b, c), history);
    expect(p.planDown().migrations.map((m) => m.id)).toEqual(['c']);
    expect(p.planDown({ steps: 2 }).migrations.map((m) => m.id)).toEqual(['c', 'b']);
    expect(p.planDown({ to: '1.0.0' }).migrations.map((m) => m.id)).toEqual(['c', 'b']);
    expect(p.planDown({ to: 'b' }).migrations.map((m) => m.id)).toEqual(['c']);
    const all = p.planDown({ all: true });
    expect(all.migrations.map((m) => m.id)).toEqual(['c', 'b', 'a']);
    expect(all.toVersion).toBeNull();
  });

  it('refuses to roll back an applied migration whose file is gone unless forced', () => {
    const gone = migration({ id: 'gone' });
    const p = planner(plugin(a), [applied(a, 1), applied(gone, 2)]);
    expect(() => p.planDown()).toThrow(/"gone": its migration file is missing/);
    const forced = p.planDown({ force: true });
    expect(forced.migrations.map((m) => [m.id, m.steps.length])).toEqual([['gone', 0]]);
    expect(forced.warnings.join()).toMatch(/history record is removed/);
  });

  it('refuses migrations without down steps or with rollbackSupported: false unless forced', () => {
    const noDown = migration({
      id: 'nd',
      steps: { up: [{ id: 'up', name: 'up', sql: { universal: 'SELECT 1' } }] },
    });
    const p = planner(plugin(noDown), [applied(noDown, 1)]);
    expect(() => p.planDown()).toThrow(expect.objectContaining({ code: 'E_ROLLBACK_REFUSED' }));
    expect(p.planDown({ force: true }).migrations[0]?.steps).toEqual([]);
    const unsafe = migration({
      id: 'u',
      steps: {
        up: [{ id: 'up', name: 'up', rollbackSupported: false, sql: { universal: 'SELECT 1' } }],
        down: [{ id: 'down', name: 'down', sql: { universal: 'SELECT 2' } }],
      },
    });
    const q = planner(plugin(unsafe), [applied(unsafe, 1)]);
    expect(() => q.planDown()).toThrow(/rollbackSupported: false/);
    expect(q.planDown({ force: true }).migrations[0]?.steps[0]?.statements).toEqual(['SELECT 2']);
  });
});
