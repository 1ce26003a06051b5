import { afterAll, describe, expect, it } from 'vitest';
import { allOutput, describeRun } from '../helpers/cli.js';
import { fileFingerprint, history } from '../helpers/db.js';
import { copySamplePlugin, type Project, removeTempDirs } from '../helpers/project.js';

afterAll(removeTempDirs);

async function appliedSample(): Promise<Project> {
  const project = copySamplePlugin();
  const up = await project.run(['up']);
  expect(up.code, describeRun(['up'], up)).toBe(0);
  return project;
}

/** Windows-style re-save: CRLF line endings and trailing blanks on every line. */
function windowsResave(text: string): string {
  return text
    .split('\n')
    .map((line) => `${line} \t `)
    .join('\r\n');
}

describe('c. drift: edits to applied migrations are refused; line endings and trailing spaces are not drift', () => {
  it('an edited applied SQL migration makes validate and up exit 3, naming the migration', async () => {
    const project = await appliedSample();
    const original = project.read('0001_create_entries.sql');
    const edited = original.replace('title VARCHAR(200) NOT NULL', 'title VARCHAR(300) NOT NULL');
    expect(edited).not.toBe(original);
    project.write('0001_create_entries.sql', edited);
    const historyBefore = history(project.dbFile);
    const before = fileFingerprint(project.dbFile);

    const validate = await project.run(['validate']);
    expect(validate.code, describeRun(['validate'], validate)).toBe(3);
    expect(allOutput(validate)).toContain('0001_create_entries');

    const up = await project.run(['up']);
    expect(up.code, describeRun(['up'], up)).toBe(3);
    expect(up.stderr).toContain('0001_create_entries');

    // Refused means refused: the recorded checksum was not silently replaced.
    expect(history(project.dbFile)).toEqual(historyBefore);
    expect(fileFingerprint(project.dbFile)).toBe(before);
  });

  it('an edited SQL text inside an applied JSON migration is drift too', async () => {
    const project = await appliedSample();
    const original = project.read('0002_add_tags.json');
    const edited = original.replace(
      'CREATE UNIQUE INDEX ux_tags_name ON tags (name)',
      'CREATE INDEX ux_tags_name ON tags (name)',
    );
    expect(edited).not.toBe(original);
    project.write('0002_add_tags.json', edited);

    const validate = await project.run(['validate']);
    expect(validate.code, describeRun(['validate'], validate)).toBe(3);
    expect(allOutput(validate)).toContain('0002_add_tags');
    const up = await project.run(['up']);
    expect(up.code, describeRun(['up'], up)).toBe(3);
    expect(up.stderr).toContain('0002_add_tags');
  });

  it('re-saving the applied files with CRLF and trailing spaces is not drift', async () => {
    const project = await appliedSample();
    const historyBefore = history(project.dbFile);

    for (const name of ['0001_create_entries.sql', '0003_seed_categories.sql']) {
      project.write(name, windowsResave(project.read(name)));
      expect(project.read(name)).toContain('\r\n');
    }
    // In the JSON document the SQL lives in strings: give those CRLF and trailing blanks, and the
    // document itself CRLF line endings.
    const doc = JSON.parse(project.read('0002_add_tags.json'), (_key, value: unknown) =>
      typeof value === 'string' && /\b(CREATE|DROP)\b/.test(value) ? windowsResave(value) : value,
    ) as unknown;
    const json = JSON.stringify(doc, null, 2);
    expect(json).toContain('\\r\\n');
    project.write('0002_add_tags.json', windowsResave(json));

    const validate = await project.run(['validate']);
    expect(validate.code, describeRun(['validate'], validate)).toBe(0);
    const up = await project.run(['up']);
    expect(up.code, describeRun(['up'], up)).toBe(0);
    expect(allOutput(up)).toMatch(/nothing to do/i);
    expect(history(project.dbFile)).toEqual(historyBefore);
  });
});
