export * from './errors.js';
export * from './model/schema.js';
export type * from './model/types.js';
export type * from './dialect.js';
export * from './sql/splitter.js';
