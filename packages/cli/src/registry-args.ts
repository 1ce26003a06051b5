import { ID_PATTERN, UsageError } from '@cmpkg/core';
import { type CommandContext, loadSettings, registryUrl, type Settings } from './context.js';
import { DEFAULT_REGISTRY_TIMEOUT_MS, RegistryClient } from './registry-client.js';

// What the registry commands share: reading `<id>[@<spec>]` arguments, and building a client from
// the settings (URL), the environment (token, timeout) and nothing else.

/**
 * The environment variable holding the registry token: never a flag, flags show up in `ps`.
 *
 * @example
 * const token = ctx.env[TOKEN_ENV];
 */
export const TOKEN_ENV = 'CMPKG_TOKEN';
/**
 * The environment variable holding the request timeout in milliseconds.
 *
 * @example
 * registryTimeoutMs({ [TIMEOUT_ENV]: '5000' }); // 5000
 */
export const TIMEOUT_ENV = 'CMPKG_REGISTRY_TIMEOUT';

/**
 * A plugin argument: its id and the version spec after `@` (a version, a dist-tag or a semver
 * range; `latest` when there is none).
 *
 * @example
 * const spec: PluginSpec = parsePluginSpec('sample@^1'); // { id: 'sample', spec: '^1', explicit: true }
 */
export interface PluginSpec {
  id: string;
  spec: string;
  /** False when the argument had no `@<spec>` and `latest` was filled in. */
  explicit: boolean;
}

/**
 * Reads `<id>[@<spec>]`. Plugin ids have no `@`, so the first one splits; the spec is taken as
 * written (the registry decides whether it is a valid range or tag: `E_REGISTRY_INVALID_RANGE`).
 * An id that does not match core's `ID_PATTERN`, or an empty spec after `@`, is a usage error.
 *
 * @param what how the argument is named in messages (`the plugin`, `NAME@RANGE`).
 *
 * @example
 * parsePluginSpec('sample'); // { id: 'sample', spec: 'latest', explicit: false }
 * parsePluginSpec('sample@>=1 <2'); // { id: 'sample', spec: '>=1 <2', explicit: true }
 * parsePluginSpec('Sample@1'); // throws UsageError
 */
export function parsePluginSpec(text: string, what = 'the plugin'): PluginSpec {
  const at = text.indexOf('@');
  const id = (at < 0 ? text : text.slice(0, at)).trim();
  const spec = at < 0 ? '' : text.slice(at + 1).trim();
  if (!ID_PATTERN.test(id)) {
    throw new UsageError(
      `${what} "${text}": "${id}" is not a plugin id (lower-case letters, digits, ".", "_" and "-", starting with a letter or digit)`,
      { details: { argument: text } },
    );
  }
  if (at >= 0 && spec === '') {
    throw new UsageError(`${what} "${text}": nothing after "@" (expected a version, a dist-tag or a range)`, {
      details: { argument: text },
    });
  }
  return at < 0 ? { id, spec: 'latest', explicit: false } : { id, spec, explicit: true };
}

/**
 * Like {@link parsePluginSpec}, but the `@<spec>` part is required (`deprecate NAME@RANGE`,
 * `yank NAME@VERSION`, `dist-tag add NAME@VERSION`).
 *
 * @example
 * requirePluginSpec('sample@<1.1.0', 'NAME@RANGE'); // { id: 'sample', spec: '<1.1.0', explicit: true }
 */
export function requirePluginSpec(text: string, what: string): PluginSpec {
  const parsed = parsePluginSpec(text, what);
  if (!parsed.explicit) {
    throw new UsageError(`expected ${what}, e.g. ${parsed.id}@1.0.0 (got "${text}")`, {
      details: { argument: text },
    });
  }
  return parsed;
}

/**
 * A plugin name argument without a version (`keys list NAME`, `dist-tag rm NAME TAG`): `NAME@…`
 * is a usage error rather than a silently ignored version.
 *
 * @example
 * pluginNameArgument('sample', 'cmpkg keys list'); // 'sample'
 */
export function pluginNameArgument(text: string, command: string): string {
  const parsed = parsePluginSpec(text, 'NAME');
  if (parsed.explicit) {
    throw new UsageError(`${command} takes the plugin name without a version (got "${text}")`, {
      details: { argument: text },
    });
  }
  return parsed.id;
}

/**
 * Whether `cmpkg install ARG` means the registry: ARG is not an existing file (the caller checks
 * that), does not end in `.cmpkg` (a missing archive stays "no such file"), is no path, and is
 * `<id>[@<spec>]` — or at least has an `@`, so that `Sample@^1` is told its id is wrong instead
 * of that there is no such file.
 *
 * @example
 * looksLikeRegistrySpec('sample@^1'); // true
 * looksLikeRegistrySpec('sample-1.0.0.cmpkg'); // false
 * looksLikeRegistrySpec('./dist/sample'); // false
 */
export function looksLikeRegistrySpec(text: string): boolean {
  if (text.toLowerCase().endsWith('.cmpkg') || /[\\/]/.test(text)) return false;
  const at = text.indexOf('@');
  return at >= 0 || ID_PATTERN.test(text);
}

/**
 * `CMPKG_REGISTRY_TIMEOUT` in milliseconds (default 30000); anything but a positive whole number is a
 * usage error naming the variable.
 *
 * @example
 * registryTimeoutMs({ CMPKG_REGISTRY_TIMEOUT: '5000' }); // 5000
 */
export function registryTimeoutMs(env: Record<string, string | undefined>): number {
  const given = env[TIMEOUT_ENV];
  if (given === undefined || given.trim() === '') return DEFAULT_REGISTRY_TIMEOUT_MS;
  const n = Number(given.trim());
  if (!/^\d+$/.test(given.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(
      `${TIMEOUT_ENV} must be a whole number of milliseconds, 1 or more (got "${given}")`,
      {
        details: { env: TIMEOUT_ENV },
      },
    );
  }
  return n;
}

/**
 * A client for a registry command: the URL from the settings (missing → exit 2), the timeout from
 * `CMPKG_REGISTRY_TIMEOUT`, and for `write` commands the token from `CMPKG_TOKEN` (missing → exit 2,
 * before anything is sent). All of it is checked before the first request.
 *
 * @param command the command, for messages (`cmpkg publish`).
 * @param options `settings` when the command has loaded them already.
 *
 * @example
 * const client = await registryClientFor(ctx, 'cmpkg yank', { write: true });
 */
export async function registryClientFor(
  ctx: CommandContext,
  command: string,
  options: { write: boolean; settings?: Settings },
): Promise<RegistryClient> {
  const settings = options.settings ?? (await loadSettings(ctx));
  const url = registryUrl(settings, command);
  const timeoutMs = registryTimeoutMs(ctx.env);
  const token = ctx.env[TOKEN_ENV];
  if (options.write && (token === undefined || token.trim() === '')) {
    throw new UsageError(`${command} needs a registry token: set the ${TOKEN_ENV} environment variable`, {
      details: { env: TOKEN_ENV },
    });
  }
  return new RegistryClient(url, token?.trim() ? { token: token.trim(), timeoutMs } : { timeoutMs });
}
