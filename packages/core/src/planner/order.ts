import { SemVer } from 'semver';
import { PlanError } from '../errors.js';
import type { Migration } from '../model/types.js';

/** A dependency reference split into plugin and migration id. */
export interface DependencyRef {
  pluginId: string;
  migrationId: string;
}

/** Resolves `id` (same plugin) or `pluginId:id` against the plugin that declares it. */
export function parseDependency(ref: string, ownPluginId: string): DependencyRef {
  const colon = ref.indexOf(':');
  return colon === -1
    ? { pluginId: ownPluginId, migrationId: ref }
    : { pluginId: ref.slice(0, colon), migrationId: ref.slice(colon + 1) };
}

/** A binary min-heap; Kahn's algorithm needs the smallest ready migration each time. */
class MinHeap<T> {
  readonly #items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => boolean) {}
  get size(): number {
    return this.#items.length;
  }
  push(item: T): void {
    const a = this.#items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.#items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * Orders one plugin's migrations: topologically over their same-plugin dependencies, ties broken by
 * version (semver), then id. Unknown dependencies are ignored here (the planner reports them);
 * a cycle is a `PlanError` (`E_CYCLE`) naming every migration on it.
 *
 * @example
 * const ordered = orderMigrations(plugin.migrations);
 */
export function orderMigrations(migrations: readonly Migration[]): Migration[] {
  const byId = new Map<string, number>(migrations.map((m, i) => [m.id, i]));
  const indegree = new Array<number>(migrations.length).fill(0);
  const dependents: number[][] = migrations.map(() => []);
  migrations.forEach((m, i) => {
    const seen = new Set<number>();
    for (const ref of m.dependencies) {
      const dep = parseDependency(ref, m.pluginId);
      if (dep.pluginId !== m.pluginId) continue;
      const j = byId.get(dep.migrationId);
      if (j === undefined || seen.has(j)) continue;
      seen.add(j);
      indegree[i]! += 1;
      dependents[j]!.push(i);
    }
  });
  // Rank every migration once by (version, id); the heap then compares integers, not semvers.
  const semverOf = new Map<string, SemVer>();
  for (const v of new Set(migrations.map((m) => m.version))) semverOf.set(v, new SemVer(v));
  const byVersionThenId = migrations
    .map((_, i) => i)
    .sort((a, b) => {
      const ma = migrations[a]!;
      const mb = migrations[b]!;
      return (
        semverOf.get(ma.version)!.compare(semverOf.get(mb.version)!) ||
        (ma.id < mb.id ? -1 : ma.id > mb.id ? 1 : 0)
      );
    });
  const rank = new Array<number>(migrations.length);
  byVersionThenId.forEach((index, position) => {
    rank[index] = position;
  });
  const less = (a: number, b: number) => rank[a]! < rank[b]!;
  const heap = new MinHeap<number>(less);
  indegree.forEach((d, i) => {
    if (d === 0) heap.push(i);
  });
  const out: Migration[] = [];
  while (heap.size > 0) {
    const i = heap.pop()!;
    out.push(migrations[i]!);
    for (const k of dependents[i]!) {
      indegree[k]! -= 1;
      if (indegree[k] === 0) heap.push(k);
    }
  }
  if (out.length < migrations.length) {
    throw cycleError(migrations, byId, indegree);
  }
  return out;
}

function cycleError(
  migrations: readonly Migration[],
  byId: Map<string, number>,
  indegree: number[],
): PlanError {
  // Every node left with indegree > 0 depends on another such node, so walking dependencies from
  // any of them must revisit one: that loop is the cycle.
  const start = indegree.findIndex((d) => d > 0);
  const path: number[] = [];
  const onPath = new Map<number, number>();
  let i = start;
  while (!onPath.has(i)) {
    onPath.set(i, path.length);
    path.push(i);
    const m = migrations[i]!;
    const next = m.dependencies
      .map((ref) => parseDependency(ref, m.pluginId))
      .filter((d) => d.pluginId === m.pluginId)
      .map((d) => byId.get(d.migrationId))
      .find((j): j is number => j !== undefined && indegree[j]! > 0);
    if (next === undefined) break;
    i = next;
  }
  const cycle = path.slice(onPath.get(i) ?? 0).map((k) => migrations[k]!);
  cycle.push(cycle[0]!);
  const names = cycle.map((m) => m.id).join(' -> ');
  const files = [...new Set(cycle.map((m) => m.source?.file).filter((f): f is string => Boolean(f)))];
  return new PlanError(
    'E_CYCLE',
    `dependency cycle: ${names}${files.length ? ` (in ${files.join(', ')})` : ''}`,
    {
      details: { cycle: cycle.map((m) => m.id), files },
    },
  );
}
