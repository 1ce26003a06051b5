import {
  CmpkgError,
  ConfigError,
  ConnectionError,
  DriftError,
  InternalError,
  LockTimeoutError,
  MigrationFailedError,
  MigrationParseError,
  PlanError,
  RollbackRefusedError,
  UsageError,
} from '@cmpkg/core';
import { CommanderError, InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { ExitCode, exitCodeFor } from './exit-codes.js';

describe('exitCodeFor', () => {
  it('is 0 without an error, so run results map directly', () => {
    expect(exitCodeFor(undefined)).toBe(0);
    expect(exitCodeFor(null)).toBe(0);
  });

  it('maps input errors to 2', () => {
    expect(exitCodeFor(new UsageError('bad'))).toBe(ExitCode.Usage);
    expect(exitCodeFor(new ConfigError('bad', { file: 'cmpkg.config.json' }))).toBe(2);
    expect(exitCodeFor(new MigrationParseError('E_UNKNOWN_HEADER', 'x', { file: 'a.sql', line: 3 }))).toBe(2);
    expect(exitCodeFor(new PlanError('E_CYCLE', 'a -> b -> a'))).toBe(2);
  });

  it('maps safety refusals to 3', () => {
    expect(exitCodeFor(new DriftError('0001 changed'))).toBe(ExitCode.Safety);
    expect(exitCodeFor(new LockTimeoutError('held by x'))).toBe(3);
    expect(exitCodeFor(new RollbackRefusedError('no down'))).toBe(3);
  });

  it('maps failures to 1', () => {
    expect(exitCodeFor(new ConnectionError('refused'))).toBe(ExitCode.Failure);
    expect(exitCodeFor(new MigrationFailedError('E_STEP_FAILED', 'boom'))).toBe(1);
    expect(exitCodeFor(new InternalError('?'))).toBe(1);
  });

  it('uses the category of any CmpkgError, also a duck-typed copy from another module instance', () => {
    expect(exitCodeFor(new CmpkgError('E_X', 'safety', 'x'))).toBe(3);
    expect(exitCodeFor({ code: 'E_Y', category: 'input', message: 'y' })).toBe(2);
  });

  it('maps commander usage errors to 2, help and version to 0', () => {
    expect(exitCodeFor(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'"))).toBe(
      2,
    );
    expect(exitCodeFor(new InvalidArgumentError('not a number'))).toBe(2);
    expect(exitCodeFor(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'))).toBe(0);
    expect(exitCodeFor(new CommanderError(0, 'commander.version', '0.1.0'))).toBe(0);
  });

  it('maps anything else to 1', () => {
    expect(exitCodeFor(new TypeError('x is undefined'))).toBe(1);
    expect(exitCodeFor('a string')).toBe(1);
    expect(exitCodeFor({ code: 42 })).toBe(1);
  });
});
