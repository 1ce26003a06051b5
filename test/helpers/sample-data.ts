import Database from 'better-sqlite3';
import { expect } from 'vitest';
import { describeRun } from './cli.js';
import { copySamplePlugin, type Project } from './project.js';

/** The user tables of the sample plugin (2.0.0), sorted. */
export const SAMPLE_TABLES = ['categories', 'entries', 'entry_revisions', 'entry_tags', 'tags'] as const;
/** Entries {@link sampleWithRows} adds; every third one is linked to a tag (40 links), 3 tags. */
export const SAMPLE_ENTRIES = 120;

/**
 * The seed-guide starting point: sample 1.0.0 applied to a SQLite file with `cmpkg up --to 1.0.0`,
 * then rows an application would have added: unicode, a `;`, quotes, multi-line text, dates spread
 * over nine days (`2024-03-01` … `2024-03-09`); then the upgrade to 2.0.0 with `cmpkg up`, so every
 * entry has a slug (1.1.0) and a first revision in `entry_revisions` (2.0.0). With
 * `{ version: '1.0.0' }` the upgrade is left out.
 */
export async function sampleWithRows(options: { version?: '1.0.0' } = {}): Promise<Project> {
  const project = copySamplePlugin();
  const first = await project.run(['up', '--to', '1.0.0']);
  expect(first.code, describeRun(['up', '--to', '1.0.0'], first)).toBe(0);
  const db = new Database(project.dbFile);
  try {
    db.transaction(() => {
      const entry = db.prepare('INSERT INTO entries (id, title, body, created_at) VALUES (?, ?, ?, ?)');
      for (let i = 1; i <= SAMPLE_ENTRIES; i++) {
        entry.run(
          i,
          `Entry ${i} — ünïcødé ✓`,
          `line one; it's "quoted"\nline two of ${i}`,
          `2024-03-0${(i % 9) + 1} 10:00:00`,
        );
      }
      const tag = db.prepare('INSERT INTO tags (name) VALUES (?)');
      for (const name of ['alpha', 'beta', 'gamma']) tag.run(name);
      const link = db.prepare('INSERT INTO entry_tags (entry_id, tag_id) VALUES (?, ?)');
      for (let i = 1; i <= SAMPLE_ENTRIES; i += 3) link.run(i, (i % 3) + 1);
    })();
  } finally {
    db.close();
  }
  // `version: '1.0.0'` stops there: the rows of an installation that was never upgraded.
  if (options.version === '1.0.0') return project;
  const upgrade = await project.run(['up']);
  expect(upgrade.code, describeRun(['up'], upgrade)).toBe(0);
  return project;
}
