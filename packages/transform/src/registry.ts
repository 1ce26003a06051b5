import { UsageError } from '@cmpkg/core';

/**
 * A host-registered function for `custom` mappings: gets the source value, the whole source row
 * (column name -> value) and the mapping's `parameters`; returns the target value (synchronously).
 * What it throws stops the run with `E_TRANSFORM_FAILED`.
 *
 * @example
 * const initials: CustomTransform = (value) => String(value).split(' ').map((w) => w[0]).join('');
 */
export type CustomTransform = (
  value: unknown,
  row: Readonly<Record<string, unknown>>,
  parameters: unknown,
) => unknown;

const NAME = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;

/**
 * Named custom transforms. A migration names a function (`"definition": "initials"`); the host
 * that runs it registers the code, so packages carry data, never code.
 *
 * @example
 * const registry = new TransformRegistry();
 * registry.register('initials', (v) => String(v).split(' ').map((w) => w[0]).join(''));
 * registry.get('initials')?.('Ada Lovelace', {}, undefined); // 'AL'
 */
export class TransformRegistry {
  readonly #fns = new Map<string, CustomTransform>();

  /** Registers (or replaces) `name`. Names are letters, digits, `_ . : -`. */
  register(name: string, fn: CustomTransform): void {
    if (!NAME.test(name)) throw new UsageError(`invalid custom transform name ${JSON.stringify(name)}`);
    if (typeof fn !== 'function') throw new UsageError(`custom transform ${name} is not a function`);
    this.#fns.set(name, fn);
  }

  get(name: string): CustomTransform | undefined {
    return this.#fns.get(name);
  }

  has(name: string): boolean {
    return this.#fns.has(name);
  }

  /** Registered names, sorted. */
  names(): string[] {
    return [...this.#fns.keys()].sort();
  }
}

/**
 * The registry transforms use when none is passed.
 *
 * @example
 * defaultRegistry.register('slug', (v) => String(v).toLowerCase().replace(/\W+/g, '-'));
 */
export const defaultRegistry: TransformRegistry = new TransformRegistry();

/**
 * Registers a custom transform in {@link defaultRegistry} (DESIGN §2.3).
 *
 * @example
 * registerTransform('slug', (v) => String(v).toLowerCase().replace(/\W+/g, '-'));
 */
export function registerTransform(name: string, fn: CustomTransform): void {
  defaultRegistry.register(name, fn);
}
