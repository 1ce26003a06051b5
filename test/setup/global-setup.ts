import type { TestProject } from 'vitest/node';
import {
  dropRunDatabases,
  dropStaleDatabases,
  newRunId,
  probe,
  SERVER_LABELS,
  type ServerEngine,
  type ServerStatus,
  skipLine,
} from '../helpers/servers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    servers: Record<ServerEngine, ServerStatus>;
    runId: string;
  }
}

const ENGINES: ServerEngine[] = ['postgresql', 'mysql'];

/** Test databases older than this were left by a run that died before its teardown. */
const STALE_AFTER_MS = 6 * 60 * 60 * 1000;

/**
 * Probes PostgreSQL and MySQL once per run. With CI=true an unreachable server fails the run;
 * otherwise its suites skip and one line says how to enable them. Databases the run created are
 * dropped at the end, even when a test file crashed before dropping its own; those of runs killed
 * more than six hours ago are dropped at the start.
 */
export default async function setup(project: TestProject) {
  const runId = newRunId();
  const servers = {} as Record<ServerEngine, ServerStatus>;
  for (const engine of ENGINES) servers[engine] = await probe(engine);
  const missing = ENGINES.filter((e) => !servers[e].available);
  if (missing.length > 0 && process.env.CI === 'true') {
    throw new Error(
      `CI=true requires every database server: ${missing
        .map((e) => `${SERVER_LABELS[e]}: ${servers[e].reason}`)
        .join('; ')}`,
    );
  }
  for (const e of missing) console.warn(skipLine(e, servers[e]));
  for (const engine of ENGINES) {
    if (servers[engine].available) await dropStaleDatabases(engine, STALE_AFTER_MS);
  }
  project.provide('servers', servers);
  project.provide('runId', runId);
  return async () => {
    for (const engine of ENGINES) {
      if (servers[engine].available) await dropRunDatabases(engine, runId);
    }
  };
}
