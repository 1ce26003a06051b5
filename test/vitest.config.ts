import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    environment: 'node',
    include: [
      'e2e/**/*.test.ts',
      'engine/**/*.test.ts',
      'conformance/**/*.test.ts',
      'dialects/**/*.test.ts',
      'transform/**/*.test.ts',
      'package/**/*.test.ts',
      'registry/**/*.test.ts',
    ],
    // Probes the database servers once, creates nothing; drops the run's throw-away databases at the end.
    globalSetup: ['./setup/global-setup.ts'],
    // Every test spawns the built CLI (a Node start-up each) and some move millions of rows.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Forks, not threads: the suites spawn and SIGKILL child processes and open native SQLite handles.
    pool: 'forks',
  },
});
