import type { z } from 'zod';

/** One schema violation, flattened for messages and `details.issues`. */
export interface FieldIssue {
  /** The path as zod reports it, plus the offending key for unrecognized keys. */
  path: PropertyKey[];
  /** `migration.steps.up[0].type` */
  field: string;
  message: string;
  line?: number;
}

/**
 * `['migration', 'steps', 'up', 0, 'type']` → `migration.steps.up[0].type`.
 *
 * @example
 * formatFieldPath(['steps', 'up', 0, 'id']); // 'steps.up[0].id'
 */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** Flattens zod issues; an unknown key is reported at the key itself so its line can be found. */
export function toFieldIssues(
  issues: readonly z.core.$ZodIssue[],
  prefix: readonly PropertyKey[] = [],
): FieldIssue[] {
  return issues.map((issue) => {
    const path = [...prefix, ...issue.path];
    const firstKey = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
    if (firstKey !== undefined) path.push(firstKey);
    return { path, field: formatFieldPath(path), message: issue.message };
  });
}

/** `"<first message>"`, plus how many more issues there are. */
export function summarizeIssues(issues: readonly FieldIssue[]): string {
  const first = issues[0];
  if (!first) return 'invalid';
  const more = issues.length - 1;
  return more > 0 ? `${first.message} (and ${more} more issue${more === 1 ? '' : 's'})` : first.message;
}
