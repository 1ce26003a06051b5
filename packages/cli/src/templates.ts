/** The formats `cmpkg new` writes. */
export const MIGRATION_FORMATS = ['sql', 'json', 'ts'] as const;
export type MigrationFormat = (typeof MIGRATION_FORMATS)[number];

/** What a template is filled in with. */
export interface TemplateFields {
  /** `NNNN_slug`, also the file name without its extension. */
  id: string;
  /** Human name, e.g. `Add tags`. */
  name: string;
  /** Plugin version that introduces the migration. */
  version: string;
  /** ISO-8601 creation time. */
  timestamp: string;
  /** True for the plugin's first migration: category `install` instead of `upgrade`. */
  first: boolean;
}

/** Every engine: the default of `@engines`, spelled out so authors see where to narrow it. */
const ALL_ENGINES = ['postgresql', 'mysql', 'sqlite', 'mssql'];

// The placeholder statements are deliberately harmless on every engine: an unedited migration
// loads, plans and even applies without changing anything, instead of failing in surprising ways.
const PLACEHOLDER_UP = 'SELECT 1';
const PLACEHOLDER_DOWN = 'SELECT 1';

/**
 * An annotated SQL migration (DESIGN.md §2.2) with every header filled in.
 *
 * @example
 * sqlTemplate({ id: '0002_add_tags', name: 'Add tags', version: '1.1.0', timestamp: '2025-01-01T00:00:00Z', first: false });
 */
export function sqlTemplate(f: TemplateFields): string {
  return `-- @id: ${f.id}
-- @name: ${f.name}
-- @description: ${f.name}
-- @version: ${f.version}
-- @timestamp: ${f.timestamp}
-- @rollbackSafe: true
-- @performanceImpact: low
-- @riskLevel: low
-- @dependencies: []
-- @engines: [${ALL_ENGINES.join(', ')}]
-- @transactional: true

-- UP MIGRATION
-- Replace the placeholder with the change. Statements end with ";". Use SQL that every engine
-- listed in the engines header accepts, or narrow that list. Once applied, do not edit this
-- file: add a new migration instead.
${PLACEHOLDER_UP};

-- DOWN MIGRATION
-- Undo the UP section here (cmpkg down runs it). If it cannot be undone, set the rollbackSafe
-- header to false.
${PLACEHOLDER_DOWN};
`;
}

/**
 * A `portable-migration-v1` document with one up and one down step. No `pluginId`: the loader
 * takes the plugin's, so the file survives a plugin rename.
 *
 * @example
 * JSON.parse(jsonTemplate(fields)).format; // 'portable-migration-v1'
 */
export function jsonTemplate(f: TemplateFields): string {
  const doc = {
    format: 'portable-migration-v1',
    migration: {
      id: f.id,
      version: f.version,
      name: f.name,
      description: f.name,
      type: 'schema',
      category: f.first ? 'install' : 'upgrade',
      dependencies: [],
      conflicts: [],
      riskLevel: 'low',
      requiresBackup: false,
      estimatedDuration: 1,
      databaseEngines: ALL_ENGINES,
      steps: {
        up: [{ id: 'apply', type: 'sql', name: f.name, sql: { universal: PLACEHOLDER_UP } }],
        down: [{ id: 'revert', type: 'sql', name: `Undo: ${f.name}`, sql: { universal: PLACEHOLDER_DOWN } }],
      },
      createdAt: f.timestamp,
      updatedAt: f.timestamp,
    },
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * A TypeScript migration built with `defineMigration` from `@cmpkg/core`. SQL steps keep it
 * packable; a `run` step (code) is allowed for local projects but never packed into a `.cmpkg`.
 *
 * @example
 * tsTemplate(fields).startsWith("import { defineMigration } from '@cmpkg/core';"); // true
 */
export function tsTemplate(f: TemplateFields): string {
  const q = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return `import { defineMigration } from '@cmpkg/core';

// SQL steps are data and can be packed into a .cmpkg; code steps (\`run: async ({ db }) => ...\`)
// work for local projects only and are never packed.
export default defineMigration({
  id: ${q(f.id)},
  version: ${q(f.version)},
  name: ${q(f.name)},
  description: ${q(f.name)},
  type: 'schema',
  category: ${q(f.first ? 'install' : 'upgrade')},
  riskLevel: 'low',
  steps: {
    up: [{ id: 'apply', name: ${q(f.name)}, sql: { universal: ${q(PLACEHOLDER_UP)} } }],
    down: [{ id: 'revert', name: ${q(`Undo: ${f.name}`)}, sql: { universal: ${q(PLACEHOLDER_DOWN)} } }],
  },
  createdAt: ${q(f.timestamp)},
});
`;
}

/** The template of a format. */
export function renderTemplate(format: MigrationFormat, fields: TemplateFields): string {
  switch (format) {
    case 'json':
      return jsonTemplate(fields);
    case 'ts':
      return tsTemplate(fields);
    default:
      return sqlTemplate(fields);
  }
}

/**
 * The file-name part of a migration name: lower-case, runs of anything outside `[a-z0-9]`
 * become `_`, trimmed.
 *
 * @example
 * slugify('Add tags!'); // 'add_tags'
 * slugify('add-tags'); // 'add_tags'
 */
export function slugify(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

/**
 * The human name of a migration from what was typed: separators become spaces, first letter upper.
 *
 * @example
 * humanize('add_tags'); // 'Add tags'
 */
export function humanize(name: string): string {
  const words = name.replace(/[_-]+/g, ' ').replace(/\s+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * The next migration number from the file names in a directory: one more than the highest
 * leading number (`0007_x.sql` → 8), zero-padded to 4 digits (or wider if the existing ones are).
 *
 * @example
 * nextNumber(['0001_init.sql', '0002_add_tags.json', 'README.md']); // '0003'
 */
export function nextNumber(fileNames: readonly string[]): string {
  let max = 0;
  let width = 4;
  for (const f of fileNames) {
    const m = /^(\d+)[_.-]/.exec(f);
    if (!m) continue;
    max = Math.max(max, Number.parseInt(m[1]!, 10));
    width = Math.max(width, m[1]!.length);
  }
  return String(max + 1).padStart(width, '0');
}

/** The file extension of a format. */
export function extensionOf(format: MigrationFormat): string {
  return format;
}
