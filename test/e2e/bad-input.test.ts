import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { allOutput, type CliResult, describeRun } from '../helpers/cli.js';
import { appliedIds, fileFingerprint } from '../helpers/db.js';
import {
  createProject,
  jsonMigration,
  type Project,
  removeTempDirs,
  sqlMigration,
} from '../helpers/project.js';

afterAll(removeTempDirs);

/**
 * Each case: a database with one applied migration, then a bad file next to it. The CLI must exit 2
 * with a message that points at the problem, and the database must be byte-for-byte as it was.
 */
describe('e. bad input exits 2, names the file and field/line, and leaves the database untouched', () => {
  let project: Project;
  let before: string;

  beforeEach(async () => {
    project = createProject({
      '0001_base.sql': sqlMigration('CREATE TABLE base (id INTEGER PRIMARY KEY);', {
        down: 'DROP TABLE base;',
      }),
    });
    const up = await project.run(['up']);
    expect(up.code, describeRun(['up'], up)).toBe(0);
    expect(appliedIds(project.dbFile)).toEqual(['0001_base']);
    before = fileFingerprint(project.dbFile);
  });

  /** Runs `args`, expects exit 2 and every `needles` in the output, and an untouched database. */
  async function expectRejected(args: string[], needles: string[]): Promise<CliResult> {
    const result = await project.run(args);
    expect(result.code, describeRun(args, result)).toBe(2);
    for (const needle of needles) expect(allOutput(result), describeRun(args, result)).toContain(needle);
    expect(fileFingerprint(project.dbFile), `${args.join(' ')} changed the database`).toBe(before);
    return result;
  }

  it('a dependency cycle names the cycle', async () => {
    project.write('0002_a.sql', sqlMigration('CREATE TABLE a (id INTEGER);', { dependencies: ['0003_b'] }));
    project.write('0003_b.sql', sqlMigration('CREATE TABLE b (id INTEGER);', { dependencies: ['0002_a'] }));
    for (const args of [['up'], ['validate']]) {
      const result = await expectRejected(args, ['0002_a', '0003_b']);
      expect(allOutput(result)).toMatch(/cycl/i);
    }
  });

  it('a missing dependency names the migration and the dependency', async () => {
    project.write(
      '0002_needs.sql',
      sqlMigration('CREATE TABLE needs (id INTEGER);', { dependencies: ['0000_nowhere'] }),
    );
    for (const args of [['up'], ['validate']]) await expectRejected(args, ['0002_needs', '0000_nowhere']);
  });

  it('a conflict with an applied migration names both', async () => {
    project.write(
      '0002_rival.json',
      jsonMigration('0002_rival', 'CREATE TABLE rival (id INTEGER)', { conflicts: ['0001_base'] }),
    );
    await expectRejected(['up'], ['0002_rival', '0001_base']);
  });

  it('an unknown SQL header names file:line', async () => {
    project.write(
      '0002_header.sql',
      [
        '-- @version: 1.0.0',
        '-- @name: Header typo',
        '-- @riskLevl: low',
        '',
        '-- UP MIGRATION',
        'CREATE TABLE h (id INTEGER);',
        '',
      ].join('\n'),
    );
    for (const args of [['up'], ['validate'], ['status']]) {
      const result = await expectRejected(args, ['0002_header.sql:3']);
      expect(allOutput(result)).toContain('riskLevl');
    }
  });

  it('invalid JSON names file:line', async () => {
    // Line 5 holds the mistake (a bare 1.0.0), and the parser stops on that same line.
    const text = [
      '{',
      '  "format": "portable-migration-v1",',
      '  "migration": {',
      '    "id": "0002_broken_json",',
      '    "version": 1.0.0,',
      '    "name": "Broken",',
      '    "steps": { "up": [{ "id": "s", "name": "s", "sql": { "universal": "SELECT 1" } }] }',
      '  }',
      '}',
      '',
    ].join('\n');
    project.write('0002_broken_json.json', text);
    for (const args of [['up'], ['validate'], ['status']])
      await expectRejected(args, ['0002_broken_json.json:5']);
  });

  it('a wrong enum value names the file and the field path', async () => {
    project.write(
      '0002_risky.json',
      jsonMigration('0002_risky', 'CREATE TABLE risky (id INTEGER)', { riskLevel: 'extreme' }),
    );
    for (const args of [['up'], ['validate'], ['status']]) {
      const result = await expectRejected(args, ['0002_risky.json', 'migration.riskLevel']);
      // The message says what would have been accepted.
      expect(allOutput(result)).toMatch(/low/);
    }
  });
});
