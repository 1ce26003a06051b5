import { type CmpkgError, isCmpkgError, type ValidationReport } from '@cmpkg/core';
import { type CommandContext, prepare, withMigrator } from '../context.js';
import { exitCodeFor } from '../exit-codes.js';
import { plural, toJsonError } from '../output.js';

/**
 * `cmpkg validate`: parses every file (errors exit 2 naming file and line or field), checks the
 * dependencies, and compares checksums with the database on a read-only connection. Drift exits 3
 * and names the migrations.
 *
 * @example
 * const code = await runValidate(ctx); // 0, 2 or 3
 */
export async function runValidate(ctx: CommandContext): Promise<number> {
  const { out } = ctx;
  const { c } = out;
  const prepared = await prepare(ctx);
  const { report, error, database } = await withMigrator(prepared, { readOnly: true }, async (m, db) => {
    const database = db.connection.displayUrl;
    try {
      // The engine returns only passing reports; everything it finds wrong is thrown.
      return { report: await m.validate(), error: undefined, database };
    } catch (err) {
      // Drift is a finding of validate, not a crash: report it in the usual shape, then exit 3.
      if (!(isCmpkgError(err) && err.code === 'E_DRIFT')) throw err;
      const ids = err.details.migrations;
      const report: ValidationReport = {
        ok: false,
        pluginId: prepared.plugin.id,
        checked: prepared.plugin.migrations.length,
        drift: Array.isArray(ids) ? ids.map(String) : [],
        warnings: [],
      };
      return { report, error: err as CmpkgError, database };
    }
  });
  out.emitJson({ ...report, ok: error === undefined, ...(error ? { error: toJsonError(error) } : {}) });
  for (const w of report.warnings) out.warn(w);
  if (error) {
    out.line(
      `${c.red('✖')} ${report.pluginId}: ${plural(report.checked, 'migration')} checked against ${database}`,
    );
    out.error(error);
  } else {
    out.line(
      `${c.green('✔')} ${report.pluginId}: ${plural(report.checked, 'migration')} valid; ` +
        `dependencies resolve and checksums match ${database}`,
    );
  }
  return exitCodeFor(error);
}
