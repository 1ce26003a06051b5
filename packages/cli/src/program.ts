import { Command, InvalidArgumentError, Option } from 'commander';
import pkg from '../package.json' with { type: 'json' };
import { type CopyCommandOptions, runCopy } from './commands/copy.js';
import { type DownCommandOptions, runDown } from './commands/down.js';
import { type ExportCommandOptions, runExport } from './commands/export.js';
import { runHistory } from './commands/history.js';
import { IMPORT_MODES, type ImportCommandOptions, runImport } from './commands/import.js';
import { runInit } from './commands/init.js';
import { type IntrospectCommandOptions, runIntrospect } from './commands/introspect.js';
import { runNew } from './commands/new.js';
import { runPlan } from './commands/plan.js';
import { runStatus } from './commands/status.js';
import { runUp, type UpCommandOptions } from './commands/up.js';
import { runValidate } from './commands/validate.js';
import type { CommandContext, GlobalOptions } from './context.js';
import { MIGRATION_FORMATS } from './templates.js';

/**
 * Runs one command's action. `main` supplies it: it turns the parsed options into a
 * `CommandContext`, runs the action and keeps the exit code, so the commands know nothing of
 * commander and the program knows nothing of output.
 */
export type ActionRunner = (
  command: Command,
  action: (ctx: CommandContext) => Promise<number>,
) => Promise<void>;

function nonNegativeNumber(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
      throw new InvalidArgumentError(`${what} must be a number of seconds (0 or more).`);
    }
    return n;
  };
}

function positiveInteger(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
      throw new InvalidArgumentError(`${what} must be a whole number, 1 or more.`);
    }
    return n;
  };
}

/** `a,b, c` → `['a', 'b', 'c']`; an empty name (`a,,b`, `''`) is a usage error naming the option. */
function nameList(what: string) {
  return (value: string, previous: string[] | undefined): string[] => {
    const names = value.split(',').map((n) => n.trim());
    if (names.some((n) => n === '')) {
      throw new InvalidArgumentError(`${what} takes names separated by commas (got "${value}").`);
    }
    // Repeating the option adds to the list.
    return [...(previous ?? []), ...names];
  };
}

const EXIT_CODES_HELP = `
Exit codes:
  0  success (including "nothing to do")
  1  the operation failed (a migration failed, the database is unreachable)
  2  bad input or usage (the message names the file and the field or line)
  3  refused for safety (drift, lock timeout, rollback without --force, backup impossible,
     a copy into a non-empty table)

Settings: flags > DATABASE_URL > cmpkg.config.json > defaults. NO_COLOR turns colour off.`;

/**
 * Builds the `cmpkg` command tree. Commander never exits the process or prints errors itself:
 * `exitOverride` turns its errors into exceptions that `main` maps to exit codes, and its error
 * printer is silenced so every error comes out in the one `error[E_CODE]: ...` format.
 *
 * @example
 * const program = buildProgram(io, runner);
 * await program.parseAsync(['status', '--json'], { from: 'user' });
 */
export function buildProgram(
  io: { stdout: { write(s: string): unknown }; stderr: { write(s: string): unknown } },
  run: ActionRunner,
): Command {
  const program = new Command('cmpkg');
  program
    .description('Plan, apply, roll back and inspect portable database migrations.')
    .version(pkg.version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: () => {},
    })
    .showSuggestionAfterError(true)
    .option('--db <url>', 'database URL (env DATABASE_URL; default sqlite:./cmpkg.db)')
    .option('--dir <dir>', 'migrations directory (default ./migrations)')
    .option('--plugin <id>', 'plugin id (default: config plugin.id, else "default")')
    .option('--config <file>', 'config file (default ./cmpkg.config.json if present)')
    .option('--json', 'print one JSON document on stdout, nothing else there')
    .option('--yes', 'do not ask for confirmation')
    .option(
      '--lock-timeout <seconds>',
      'wait this long for the migration lock (default 60)',
      nonNegativeNumber('--lock-timeout'),
    )
    .option('--user <name>', 'recorded as applied_by (default: the OS user)')
    .option('--verbose', 'print stack traces of unexpected errors')
    .addHelpText('after', EXIT_CODES_HELP);

  program
    .command('init')
    .description('write cmpkg.config.json and create the migrations directory')
    .option('--force', 'overwrite an existing config file')
    .action(async (opts: { force?: boolean }, cmd: Command) => run(cmd, (ctx) => runInit(ctx, opts)));

  program
    .command('new')
    .description('create the next numbered migration file from a template')
    .argument('<name...>', 'what the migration does, e.g. add_tags')
    .addOption(new Option('--format <format>', 'file format').choices(MIGRATION_FORMATS).default('sql'))
    .action(async (name: string[], opts: { format: (typeof MIGRATION_FORMATS)[number] }, cmd: Command) =>
      run(cmd, (ctx) => runNew(ctx, name.join(' '), opts)),
    );

  program
    .command('status')
    .description('every migration and its state: applied, pending, partial, failed, skipped, missing')
    .action(async (_opts: object, cmd: Command) => run(cmd, (ctx) => runStatus(ctx)));

  program
    .command('plan')
    .description('what `up` would do: order, risk, duration, backup, lint findings and the SQL')
    .option('--to <target>', 'latest, a version, a semver range or a migration id (default latest)')
    .option('--allow-out-of-order', 'allow pending migrations ordered before applied ones')
    .action(async (opts: { to?: string }, cmd: Command) => run(cmd, (ctx) => runPlan(ctx, opts)));

  program
    .command('up')
    .description('apply pending migrations')
    .option('--to <target>', 'latest, a version, a semver range or a migration id (default latest)')
    .option('--dry-run', 'print the plan and the exact SQL; change nothing')
    .option('--allow-out-of-order', 'allow pending migrations ordered before applied ones')
    .option('--repair', 'record the current checksum of drifted applied migrations instead of refusing')
    .option('--continue-on-error', 'go on with the next migration after one fails')
    .option('--skip-backup', 'do not back up even when the plan requires it')
    .option('--reason <text>', 'recorded in the history')
    .action(async (opts: UpCommandOptions, cmd: Command) => run(cmd, (ctx) => runUp(ctx, opts)));

  program
    .command('down')
    .description('roll back applied migrations (default: the last one)')
    .addOption(
      new Option('--steps <n>', 'roll back this many migrations')
        .argParser(positiveInteger('--steps'))
        .conflicts(['to', 'all']),
    )
    .addOption(
      new Option('--to <target>', 'roll back every migration after this version or id').conflicts('all'),
    )
    .option('--all', 'roll back every applied migration')
    .option('--force', 'also roll back migrations without down steps or marked rollbackSupported: false')
    .option('--dry-run', 'print the plan and the exact SQL; change nothing')
    .option('--reason <text>', 'recorded in the history')
    .action(async (opts: DownCommandOptions, cmd: Command) => run(cmd, (ctx) => runDown(ctx, opts)));

  program
    .command('validate')
    .description('parse every file, check dependencies and checksums against the database')
    .action(async (_opts: object, cmd: Command) => run(cmd, (ctx) => runValidate(ctx)));

  program
    .command('history')
    .description('past runs and the applied migrations')
    .option('--limit <n>', 'most recent runs to show', positiveInteger('--limit'))
    .action(async (opts: { limit?: number }, cmd: Command) => run(cmd, (ctx) => runHistory(ctx, opts)));

  program
    .command('introspect')
    .description('the database schema: tables, columns, keys, indexes, views, triggers, routines, sizes')
    .option('--table <name...>', 'only these tables (repeatable)')
    .option('--exact-counts', 'count rows with count(*) instead of reading statistics')
    .option('--include-history', "include cmpkg's own history tables")
    .option('--sql', 'print only the CREATE statements')
    .action(async (opts: IntrospectCommandOptions, cmd: Command) =>
      run(cmd, (ctx) => runIntrospect(ctx, opts)),
    );

  program
    .command('copy')
    .description('copy tables, rows, indexes and foreign keys to another database, and verify them')
    .requiredOption('--from <url>', 'source database URL (opened read-only)')
    .requiredOption('--to <url>', 'target database URL')
    .option('--tables <names>', 'only these tables, comma-separated (default: all)', nameList('--tables'))
    .option('--map <file>', 'mapping file: renames, left-out columns, field mappings')
    .option(
      '--batch-size <n>',
      'rows per batch and per commit (default 5000)',
      positiveInteger('--batch-size'),
    )
    .option('--replace', 'drop existing target tables first instead of refusing non-empty ones')
    .option('--no-verify', 'skip the row-count and checksum comparison')
    .option(
      '--no-history',
      "leave cmpkg's migration history tables behind (copied by default without --tables)",
    )
    .addHelpText('after', COPY_HELP)
    .action(async (opts: CopyCommandOptions, cmd: Command) => run(cmd, (ctx) => runCopy(ctx, opts)));

  program
    .command('export')
    .description('write tables as NDJSON (one JSON object per row) to a directory, a file or stdout')
    .requiredOption('--tables <names>', 'tables to export, comma-separated', nameList('--tables'))
    .requiredOption('--out <path>', 'a directory, a .ndjson file (one table) or - for stdout (one table)')
    .option('--date-column <column>', 'the column --since and --until filter on')
    .option('--since <date>', 'only rows with date-column >= this date or timestamp')
    .option('--until <date>', 'only rows with date-column < this date or timestamp')
    .option('--where <sql>', 'only rows matching this SQL condition')
    .option('--batch-size <n>', 'rows read per batch', positiveInteger('--batch-size'))
    .action(async (opts: ExportCommandOptions, cmd: Command) => run(cmd, (ctx) => runExport(ctx, opts)));

  program
    .command('import')
    .description('load NDJSON files (an export directory or one .ndjson file) into existing tables')
    .argument('<input>', 'an export directory or a .ndjson file')
    .option('--table <name>', 'target table of a single file (default: the file name)')
    .addOption(new Option('--mode <mode>', 'insert, merge (upsert by key) or replace').choices(IMPORT_MODES))
    .option('--batch-size <n>', 'rows written per batch', positiveInteger('--batch-size'))
    .option('--skip-errors', 'write the good rows and set the bad ones aside instead of importing nothing')
    .option('--reject-file <file>', 'with --skip-errors: write the bad rows here as NDJSON')
    .option('--validate', 'check every row against the tables and report; write nothing')
    .action(async (input: string, opts: ImportCommandOptions, cmd: Command) =>
      run(cmd, (ctx) => runImport(ctx, input, opts)),
    );

  return program;
}

const COPY_HELP = `
Examples:
  cmpkg copy --from sqlite:./app.db --to postgres://app@localhost:5432/app
  cmpkg copy --from postgres://app@old/app --to mysql://root@new/app --tables users,orders --map mapping.json

An interrupted copy resumes when it is run again with the same arguments. Without --tables, cmpkg's
migration history comes along (--no-history leaves it), so 'cmpkg status' on the target shows what was applied.
Exit codes: 0 copied and verified, 1 verification failed, 2 bad mapping or data, 3 a target table is not empty.`;

/** The global options out of a command's merged options, typed. */
export function globalOptionsOf(command: Command): GlobalOptions {
  const o = command.optsWithGlobals<GlobalOptions & { allowOutOfOrder?: boolean }>();
  const flags: GlobalOptions = {};
  if (o.db !== undefined) flags.db = o.db;
  if (o.dir !== undefined) flags.dir = o.dir;
  if (o.plugin !== undefined) flags.plugin = o.plugin;
  if (o.config !== undefined) flags.config = o.config;
  if (o.json) flags.json = true;
  if (o.yes) flags.yes = true;
  if (o.lockTimeout !== undefined) flags.lockTimeout = o.lockTimeout;
  if (o.user !== undefined) flags.user = o.user;
  if (o.verbose) flags.verbose = true;
  if (o.allowOutOfOrder) flags.allowOutOfOrder = true;
  return flags;
}
