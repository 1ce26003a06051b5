import { basename, extname } from 'node:path';
import { MigrationParseError } from '../errors.js';
import { formatFieldPath, summarizeIssues, toFieldIssues } from '../model/issues.js';
import { type MigrationInput, MigrationSchema, type StepInput } from '../model/schema.js';
import { toMigration } from '../model/to-migration.js';
import type { Migration } from '../model/types.js';
import { splitStatements } from '../sql/splitter.js';

type HeaderKind = 'text' | 'boolean' | 'number' | 'list' | 'date';

interface HeaderSpec {
  /** How the header is spelled in files (for messages). */
  name: string;
  kind: HeaderKind;
  /** The model field it fills; `rollbackSafe` and `transactional` go to the steps instead. */
  field?: keyof MigrationInput;
}

const HEADER_SPECS: readonly HeaderSpec[] = [
  { name: 'id', kind: 'text', field: 'id' },
  { name: 'name', kind: 'text', field: 'name' },
  { name: 'description', kind: 'text', field: 'description' },
  { name: 'version', kind: 'text', field: 'version' },
  { name: 'timestamp', kind: 'date', field: 'createdAt' },
  { name: 'rollbackSafe', kind: 'boolean' },
  { name: 'performanceImpact', kind: 'text', field: 'performanceImpact' },
  { name: 'riskLevel', kind: 'text', field: 'riskLevel' },
  { name: 'dependencies', kind: 'list', field: 'dependencies' },
  { name: 'engines', kind: 'list', field: 'databaseEngines' },
  { name: 'transactional', kind: 'boolean' },
  { name: 'type', kind: 'text', field: 'type' },
  { name: 'category', kind: 'text', field: 'category' },
  { name: 'conflicts', kind: 'list', field: 'conflicts' },
  { name: 'requiresBackup', kind: 'boolean', field: 'requiresBackup' },
  { name: 'estimatedDuration', kind: 'number', field: 'estimatedDuration' },
  { name: 'pluginId', kind: 'text', field: 'pluginId' },
];
const HEADERS = new Map(HEADER_SPECS.map((s) => [s.name.toLowerCase(), s]));
const HEADER_NAMES = HEADER_SPECS.map((s) => `@${s.name}`).join(', ');

/**
 * The version of SQL files without `@version`: they order by id among themselves, and a later plugin
 * version bump never changes their checksum.
 *
 * @example
 * parseSqlMigration('SELECT 1;', '/m/0001_x.sql').version === SQL_DEFAULT_VERSION; // true
 */
export const SQL_DEFAULT_VERSION = '0.0.0';

const HEADER_LINE = /^--\s*@([A-Za-z][\w-]*)\s*:(.*)$/;
const HEADER_ATTEMPT = /^--\s*@/;
/** `-- UP`, `-- UP MIGRATION`, `-- up: free text`; not `-- UPDATE ...` or `-- up-to-date`. */
const MARKER = /^--\s*(up|down)(?=$|[\s:])/i;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

interface Header {
  spec: HeaderSpec;
  value: string;
  line: number;
}

/**
 * Parses an annotated SQL migration (DESIGN.md §2.2): `-- @key: value` headers, then an optional
 * `-- UP MIGRATION` marker and an optional `-- DOWN MIGRATION` section. Each section becomes one
 * `sql` step with the text as written (`sql.universal`); statements are split later, by the planner,
 * with the connected dialect's rules.
 *
 * @example
 * const m = parseSqlMigration('-- @version: 1.0.0\n-- UP\nCREATE TABLE t (id int);\n', '/m/0001_init.sql');
 * m.id; // '0001_init'
 */
export function parseSqlMigration(text: string, file: string): Migration {
  const lines = (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).split(/\r\n|\r|\n/);
  const fail = (
    code: 'E_PARSE' | 'E_UNKNOWN_HEADER' | 'E_SCHEMA',
    message: string,
    line?: number,
    field?: string,
  ) => new MigrationParseError(code, message, { file, line, field });

  // Headers: everything before the UP marker or the first line of SQL.
  const headers = new Map<string, Header>();
  let index = 0;
  let upMarkerLine: number | undefined;
  for (; index < lines.length; index++) {
    const line = (lines[index] ?? '').trim();
    const lineNo = index + 1;
    if (line === '') continue;
    if (!line.startsWith('--')) break;
    const marker = MARKER.exec(line);
    if (marker) {
      if (marker[1]?.toLowerCase() === 'up') {
        upMarkerLine = lineNo;
        index++;
      }
      break;
    }
    const header = HEADER_LINE.exec(line);
    if (!header) {
      if (HEADER_ATTEMPT.test(line))
        throw fail('E_PARSE', 'malformed header; expected "-- @key: value"', lineNo);
      continue;
    }
    const key = header[1] ?? '';
    const spec = HEADERS.get(key.toLowerCase());
    if (!spec) {
      throw fail(
        'E_UNKNOWN_HEADER',
        `unknown header "@${key}"; known headers: ${HEADER_NAMES}`,
        lineNo,
        `@${key}`,
      );
    }
    const previous = headers.get(spec.name);
    if (previous) {
      throw fail(
        'E_PARSE',
        `duplicate header "@${spec.name}" (first at line ${previous.line})`,
        lineNo,
        `@${spec.name}`,
      );
    }
    headers.set(spec.name, { spec, value: (header[2] ?? '').trim(), line: lineNo });
  }

  // Sections: the UP text runs to the DOWN marker, the DOWN text to the end of the file.
  const upStart = index;
  let downMarker: number | undefined;
  let firstSql: number | undefined;
  for (; index < lines.length; index++) {
    const line = (lines[index] ?? '').trim();
    const lineNo = index + 1;
    const marker = MARKER.exec(line);
    if (!marker) {
      if (firstSql === undefined && line !== '' && !line.startsWith('--')) firstSql = lineNo;
      // Without an UP marker a late header would silently become a comment (and its value be lost).
      if (upMarkerLine === undefined && HEADER_LINE.test(line)) {
        throw fail(
          'E_PARSE',
          `header after the first SQL (line ${firstSql ?? upStart + 1}); headers go at the top of the file`,
          lineNo,
        );
      }
      continue;
    }
    if (marker[1]?.toLowerCase() === 'up') {
      // A second marker is refused rather than guessed: `-- up to 10 rows ...` reads like one.
      throw fail(
        'E_PARSE',
        upMarkerLine !== undefined
          ? `second UP marker (first at line ${upMarkerLine}); reword the comment if it is not a marker`
          : `UP marker after SQL (line ${firstSql ?? upStart + 1}); it must come before the first statement`,
        lineNo,
      );
    }
    if (downMarker !== undefined) {
      throw fail(
        'E_PARSE',
        `second DOWN marker (first at line ${downMarker + 1}); reword the comment if it is not a marker`,
        lineNo,
      );
    }
    downMarker = index;
  }
  const upText = section(lines, upStart, downMarker ?? lines.length);
  const downText = downMarker === undefined ? '' : section(lines, downMarker + 1, lines.length);
  const sectionLine = upMarkerLine ?? upStart + 1;
  if (splitStatements(upText).length === 0) {
    throw fail('E_PARSE', 'the UP section has no SQL', Math.min(sectionLine, lines.length));
  }

  // Values: typed here (so the message names the header); checked by the one zod schema below.
  const input: Record<string, unknown> = {};
  const fieldLines = new Map<string, Header>();
  let rollbackSafe = true;
  let transactional: boolean | undefined;
  for (const header of headers.values()) {
    const { spec, value, line } = header;
    const typed = typedValue(spec, value);
    if (typed.error !== undefined)
      throw fail('E_SCHEMA', `@${spec.name}: ${typed.error}`, line, `@${spec.name}`);
    if (spec.name === 'rollbackSafe') rollbackSafe = typed.value === true;
    else if (spec.name === 'transactional') transactional = typed.value === true;
    else if (spec.field) {
      input[spec.field] = typed.value;
      fieldLines.set(spec.field, header);
    }
  }
  const fileId = basename(file, extname(file));
  input.id ??= fileId;
  input.name ??= input.id;
  input.version ??= SQL_DEFAULT_VERSION;

  const step = (id: 'up' | 'down', sql: string): StepInput => {
    const s: StepInput = {
      id,
      type: 'sql',
      name: typeof input.name === 'string' ? input.name : id,
      sql: { universal: sql },
    };
    // The rollback check looks at the up steps: they are what cannot be undone.
    if (id === 'up' && !rollbackSafe) s.rollbackSupported = false;
    if (transactional !== undefined) s.transactional = transactional;
    return s;
  };
  input.steps = {
    up: [step('up', upText)],
    down: splitStatements(downText).length > 0 ? [step('down', downText)] : [],
  };

  const parsed = MigrationSchema.safeParse(input);
  if (!parsed.success) {
    const issues = toFieldIssues(parsed.error.issues);
    const first = issues[0];
    const key = first?.path[0];
    const header = typeof key === 'string' ? fieldLines.get(key) : undefined;
    let message = summarizeIssues(issues);
    let line: number | undefined;
    let field = first ? formatFieldPath(first.path) : undefined;
    if (header) {
      message = `@${header.spec.name}: ${message}`;
      line = header.line;
      field = `@${header.spec.name}`;
    } else if (key === 'id') {
      message = `the file name "${fileId}" is not a valid migration id (${message}); add an "-- @id:" header`;
    } else if (key === 'steps') {
      line = sectionLine;
    }
    throw new MigrationParseError(
      'E_SCHEMA',
      message,
      { file, line, field },
      { details: { issues: issues.map((i) => ({ field: i.field, message: i.message })) } },
    );
  }
  return toMigration(parsed.data, { file, format: 'sql' });
}

/** The lines of a section with the blank lines around it removed. */
function section(lines: readonly string[], from: number, to: number): string {
  let a = from;
  let b = to;
  while (a < b && (lines[a] ?? '').trim() === '') a++;
  while (b > a && (lines[b - 1] ?? '').trim() === '') b--;
  return lines.slice(a, b).join('\n');
}

function typedValue(spec: HeaderSpec, raw: string): { value?: unknown; error?: string } {
  switch (spec.kind) {
    case 'boolean': {
      const v = raw.toLowerCase();
      if (v === 'true' || v === 'false') return { value: v === 'true' };
      return { error: `expected true or false, got ${JSON.stringify(raw)}` };
    }
    case 'number': {
      const v = Number(raw);
      if (raw === '' || !Number.isFinite(v))
        return { error: `expected a number, got ${JSON.stringify(raw)}` };
      return { value: v };
    }
    case 'date':
      if (!ISO_DATE.test(raw) || Number.isNaN(Date.parse(raw))) {
        return {
          error: `expected an ISO-8601 date such as 2024-01-01T00:00:00Z, got ${JSON.stringify(raw)}`,
        };
      }
      return { value: raw };
    case 'list': {
      let body = raw;
      if (body.startsWith('[') || body.endsWith(']')) {
        if (!(body.startsWith('[') && body.endsWith(']')))
          return { error: `unbalanced brackets in ${JSON.stringify(raw)}` };
        body = body.slice(1, -1);
      }
      const items = body
        .split(',')
        .map((item) => item.trim().replace(/^(['"`])(.*)\1$/, '$2'))
        .filter((item) => item !== '');
      return { value: items };
    }
    case 'text':
      return { value: raw };
  }
}
