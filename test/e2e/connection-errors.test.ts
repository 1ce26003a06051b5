import { afterAll, describe, expect, it } from 'vitest';
import { describeRun } from '../helpers/cli.js';
import { engineAvailable } from '../helpers/engines.js';
import { copySamplePlugin, removeTempDirs } from '../helpers/project.js';
import { SERVER_URLS } from '../helpers/servers.js';

/**
 * A database that cannot be reached is one line on stderr naming host, port and the reason, exit 1,
 * no stack trace, in every command that opens the database.
 */
afterAll(removeTempDirs);

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
  return lines[0]!;
}

describe('connection failures', () => {
  it.each([
    ['postgres://postgres@127.0.0.1:1/app', 'PostgreSQL'],
    ['mysql://root@127.0.0.1:1/app', 'MySQL'],
  ])('%s: one line with host, port and reason, exit 1, in every database command', async (url, engine) => {
    const project = copySamplePlugin(url);
    for (const args of [['status'], ['plan'], ['up'], ['validate'], ['history'], ['introspect']]) {
      const result = await project.run(args);
      expect(result.code, describeRun(args, result)).toBe(1);
      const line = oneLine(result.stderr);
      expect(line).toContain('error[E_CONNECTION]');
      expect(line).toContain(`${engine} at 127.0.0.1:1`);
      expect(line).toMatch(/connection refused/i);
    }
  });

  it('hides the password of a URL it cannot use', async () => {
    const project = copySamplePlugin('postgres://app:s3cret@127.0.0.1:1/app');
    const result = await project.run(['status']);
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain('s3cret');
  });

  it.runIf(engineAvailable('postgresql'))('names a database that does not exist (PostgreSQL)', async () => {
    const url = new URL(SERVER_URLS.postgresql);
    url.pathname = '/cmpkg_no_such_database';
    const result = await copySamplePlugin(url.toString()).run(['status']);
    expect(result.code, describeRun(['status'], result)).toBe(1);
    expect(oneLine(result.stderr)).toMatch(/database "cmpkg_no_such_database" does not exist/);
  });

  it.runIf(engineAvailable('mysql'))('names a database that does not exist (MySQL)', async () => {
    const url = new URL(SERVER_URLS.mysql);
    url.pathname = '/cmpkg_no_such_database';
    const result = await copySamplePlugin(url.toString()).run(['status']);
    expect(result.code, describeRun(['status'], result)).toBe(1);
    expect(oneLine(result.stderr)).toMatch(/unknown database 'cmpkg_no_such_database'/i);
  });
});
