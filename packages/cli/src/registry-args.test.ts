import { describe, expect, it } from 'vitest';
import {
  looksLikeRegistrySpec,
  parsePluginSpec,
  pluginNameArgument,
  registryTimeoutMs,
  requirePluginSpec,
} from './registry-args.js';

describe('parsePluginSpec', () => {
  it('reads <id>[@<spec>]: no spec is latest; ranges are kept as written', () => {
    expect(parsePluginSpec('sample')).toEqual({ id: 'sample', spec: 'latest', explicit: false });
    expect(parsePluginSpec('sample@^1')).toEqual({ id: 'sample', spec: '^1', explicit: true });
    expect(parsePluginSpec('sample@latest')).toEqual({ id: 'sample', spec: 'latest', explicit: true });
    expect(parsePluginSpec('sample@>=1 <2')).toEqual({ id: 'sample', spec: '>=1 <2', explicit: true });
    expect(parsePluginSpec('sample@1.0.0 - 1.2')).toEqual({
      id: 'sample',
      spec: '1.0.0 - 1.2',
      explicit: true,
    });
    expect(parsePluginSpec('sample@^1 || ^2')).toMatchObject({ spec: '^1 || ^2' });
    expect(parsePluginSpec('kb.tags_2-x@2.0.0-beta.1')).toEqual({
      id: 'kb.tags_2-x',
      spec: '2.0.0-beta.1',
      explicit: true,
    });
    // Only the first @ splits: the registry judges the rest (E_REGISTRY_INVALID_RANGE).
    expect(parsePluginSpec('sample@a@b')).toMatchObject({ id: 'sample', spec: 'a@b' });
    expect(parsePluginSpec(' sample @ ^1 ')).toEqual({ id: 'sample', spec: '^1', explicit: true });
  });

  it('refuses ids that are not plugin ids, and an empty spec, as usage errors naming the argument', () => {
    for (const bad of [
      'Sample',
      'Sample@1',
      '-x',
      '.x',
      '@scope/x',
      'a/b',
      'a b',
      '',
      '@1',
      'ß',
      'sample!',
    ]) {
      expect(() => parsePluginSpec(bad), bad).toThrow(/is not a plugin id/);
      try {
        parsePluginSpec(bad);
      } catch (err) {
        expect(err, bad).toMatchObject({ code: 'E_USAGE', category: 'input' });
      }
    }
    expect(() => parsePluginSpec('sample@')).toThrow('the plugin "sample@": nothing after "@"');
    expect(() => parsePluginSpec('sample@  ', 'NAME@RANGE')).toThrow(
      /^NAME@RANGE "sample@ {2}": nothing after/,
    );
  });

  it('requirePluginSpec needs the @<spec>; pluginNameArgument refuses one', () => {
    expect(requirePluginSpec('sample@1.0.0', 'NAME@VERSION')).toMatchObject({ id: 'sample', spec: '1.0.0' });
    expect(() => requirePluginSpec('sample', 'NAME@VERSION')).toThrow(
      'expected NAME@VERSION, e.g. sample@1.0.0 (got "sample")',
    );
    expect(pluginNameArgument('sample', 'cmpkg keys list')).toBe('sample');
    expect(() => pluginNameArgument('sample@1', 'cmpkg keys list')).toThrow(
      'cmpkg keys list takes the plugin name without a version (got "sample@1")',
    );
    expect(() => pluginNameArgument('Nope', 'cmpkg keys list')).toThrow(/is not a plugin id/);
  });
});

describe('looksLikeRegistrySpec', () => {
  it('is true for <id>[@<spec>] (and bad ids with an @, for a clear error), false for archive names and paths', () => {
    for (const yes of [
      'sample',
      'sample@^1',
      'sample@latest',
      'sample@>=1 <2',
      'sample@1.0.0',
      'Sample@1',
      'sample@',
    ]) {
      expect(looksLikeRegistrySpec(yes), yes).toBe(true);
    }
    for (const no of [
      'sample-1.0.0.cmpkg',
      'SAMPLE-1.0.0.CMPKG',
      'missing.cmpkg',
      './sample',
      'dist/sample-1.0.0.cmpkg',
      '/abs/sample',
      'dir\\sample@1',
      'sample@1/x',
      'Sample',
      '',
    ]) {
      expect(looksLikeRegistrySpec(no), no).toBe(false);
    }
  });
});

describe('registryTimeoutMs', () => {
  it('is CMPKG_REGISTRY_TIMEOUT in milliseconds, 30000 by default; anything else is a usage error', () => {
    expect(registryTimeoutMs({})).toBe(30_000);
    expect(registryTimeoutMs({ CMPKG_REGISTRY_TIMEOUT: '' })).toBe(30_000);
    expect(registryTimeoutMs({ CMPKG_REGISTRY_TIMEOUT: ' 1500 ' })).toBe(1500);
    for (const bad of ['0', '-5', '1.5', '30s', 'soon']) {
      expect(() => registryTimeoutMs({ CMPKG_REGISTRY_TIMEOUT: bad }), bad).toThrow(
        `CMPKG_REGISTRY_TIMEOUT must be a whole number of milliseconds, 1 or more (got "${bad}")`,
      );
    }
  });
});
