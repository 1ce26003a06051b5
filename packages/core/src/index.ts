export * from './backoff.js';
export * from './checksum.js';
export * from './config.js';
export * from './data/portable-value.js';
export type * from './dialect.js';
export * from './engine/atomically.js';
export * from './engine/migrator.js';
export type * from './engine/types.js';
export * from './errors.js';
export {
  defaultUser,
  HISTORY_TABLES,
  HistoryStore,
  type InstalledPluginRecord,
  type PackageMigrationDocument,
} from './history/history-store.js';
export * from './loaders/directory-loader.js';
export * from './loaders/json-loader.js';
export * from './loaders/module-loader.js';
export * from './loaders/sql-loader.js';
export * from './model/define-migration.js';
export * from './model/schema.js';
export type * from './model/types.js';
export { type DriftFinding, detectDrift, driftError } from './planner/drift.js';
export { lintPlan } from './planner/lint.js';
export { type DependencyRef, orderMigrations, parseDependency } from './planner/order.js';
export {
  MigrationPlanner,
  type PlannerDialect,
  type PlannerInput,
  type UpPlanOptions,
} from './planner/planner.js';
export * from './schema/portable-default.js';
export * from './schema/portable-types.js';
export type * from './schema/snapshot.js';
export * from './sql/splitter.js';
