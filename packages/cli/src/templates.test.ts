import { describe, expect, it } from 'vitest';
import { humanize, jsonTemplate, nextNumber, slugify, sqlTemplate } from './templates.js';

describe('nextNumber', () => {
  it('starts at 0001', () => {
    expect(nextNumber([])).toBe('0001');
    expect(nextNumber(['README.md', '.gitkeep'])).toBe('0001');
  });
  it('continues after the highest number, whatever the extension and gaps', () => {
    expect(nextNumber(['0001_init.sql', '0007_x.json', '0003_y.ts'])).toBe('0008');
  });
  it('keeps wider numbering when the directory already uses it', () => {
    expect(nextNumber(['000041_x.sql'])).toBe('000042');
    expect(nextNumber(['9999_x.sql'])).toBe('10000');
  });
});

describe('slugify / humanize', () => {
  it('builds file-name slugs', () => {
    expect(slugify('add tags')).toBe('add_tags');
    expect(slugify('Add-Tags!')).toBe('add_tags');
    expect(slugify('  Crème brûlée  ')).toBe('creme_brulee');
    expect(slugify('!!!')).toBe('');
  });
  it('builds human names', () => {
    expect(humanize('add_tags')).toBe('Add tags');
    expect(humanize('add-tags to\nentries')).toBe('Add tags to entries');
  });
});

const fields = {
  id: '0002_add_tags',
  name: 'Add tags',
  version: '1.1.0',
  timestamp: '2025-01-01T00:00:00Z',
  first: false,
};

describe('templates', () => {
  it('fills the annotated SQL headers in DESIGN.md §2.2 order', () => {
    const sql = sqlTemplate(fields);
    const headers = sql
      .split('\n')
      .filter((l) => l.startsWith('-- @'))
      .map((l) => l.slice(3, l.indexOf(':')));
    expect(headers).toEqual([
      '@id',
      '@name',
      '@description',
      '@version',
      '@timestamp',
      '@rollbackSafe',
      '@performanceImpact',
      '@riskLevel',
      '@dependencies',
      '@engines',
      '@transactional',
    ]);
    expect(sql).toContain('-- @id: 0002_add_tags\n-- @name: Add tags\n');
    expect(sql).toContain('-- @version: 1.1.0\n');
    expect(sql.indexOf('-- UP MIGRATION')).toBeLessThan(sql.indexOf('-- DOWN MIGRATION'));
  });

  it('writes a portable-migration-v1 document', () => {
    const doc = JSON.parse(jsonTemplate({ ...fields, first: true }));
    expect(doc.format).toBe('portable-migration-v1');
    expect(doc.migration).toMatchObject({
      id: '0002_add_tags',
      version: '1.1.0',
      name: 'Add tags',
      category: 'install',
    });
  });
});
