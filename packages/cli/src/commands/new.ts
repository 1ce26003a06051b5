import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '@cmpkg/core';
import { type CommandContext, loadPluginFor, loadSettings } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import {
  extensionOf,
  humanize,
  type MigrationFormat,
  nextNumber,
  renderTemplate,
  slugify,
} from '../templates.js';
import { FileExistsError } from './init.js';

/** Options of `cmpkg new`. */
export interface NewCommandOptions {
  format?: MigrationFormat;
}

/** Used when neither the config nor an existing migration says which version the plugin is at. */
const FIRST_VERSION = '0.1.0';

/**
 * `cmpkg new NAME [--format sql|json|ts]`: creates `NNNN_<slug>.<ext>` in the migrations directory
 * with the next number and a filled-in template. `@version` is the config's `plugin.version`, else
 * the highest version among the existing migrations, else 0.1.0. Never overwrites a file.
 *
 * @example
 * await runNew(ctx, 'add tags', { format: 'sql' }); // migrations/0002_add_tags.sql
 */
export async function runNew(ctx: CommandContext, name: string, options: NewCommandOptions): Promise<number> {
  const { out, cwd } = ctx;
  const format = options.format ?? 'sql';
  const slug = slugify(name);
  if (slug === '') {
    throw new UsageError(`migration name "${name}" has no letters or digits to build a file name from`);
  }
  const settings = await loadSettings(ctx);
  const dir = settings.migrationsDir;
  await mkdir(dir, { recursive: true });
  const existing = await readdir(dir);
  // Like Rails: two migrations with the same name are almost always a mistake (a re-run command).
  const twin = existing.find(
    (f) => /^\d+[_.-]/.test(f) && f.replace(/^\d+[_.-]/, '').replace(/\.[^.]+$/, '') === slug,
  );
  if (twin !== undefined) {
    const twinShown = path.relative(cwd, path.join(dir, twin)) || twin;
    throw new FileExistsError(
      twinShown,
      `a migration named "${slug}" already exists (${twinShown}); choose another name`,
    );
  }
  const id = `${nextNumber(existing)}_${slug}`;
  const file = path.join(dir, `${id}.${extensionOf(format)}`);
  const shown = path.relative(cwd, file) || file;

  let version = settings.pluginVersion;
  let first = true;
  if (version === undefined || existing.length > 0) {
    try {
      const plugin = await loadPluginFor(settings);
      first = plugin.migrations.length === 0;
      if (!first) version ??= plugin.version;
    } catch (err) {
      // A broken sibling must not stop you from creating the next file; `validate` will report it.
      const reason = err instanceof Error ? err.message : String(err);
      out.warn(`could not read the existing migrations (${reason})`);
      first = !existing.some((f) => /^\d+[_.-]/.test(f));
    }
  }
  version ??= FIRST_VERSION;

  const content = renderTemplate(format, {
    id,
    name: humanize(name),
    version,
    timestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    first,
  });
  try {
    await writeFile(file, content, { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      throw new FileExistsError(shown, `${shown} already exists; nothing was overwritten`);
    throw err;
  }
  out.emitJson({ ok: true, files: [file] });
  out.line(`${out.c.green('✔')} created ${shown} (${settings.pluginId} ${version})`);
  return ExitCode.Ok;
}
