import { defineConfig } from 'tsup';

export default defineConfig([
  {
    // The library face: dependencies stay external, as any package's should.
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    // The two builds run at once: each cleans only its own files.
    clean: ['index.*'],
    target: 'node20',
  },
  {
    // The executable, bundled into one file: resolving and compiling Kysely's ~280 ESM modules
    // (and the rest) one by one was most of a command's start-up time. The native driver and the
    // TypeScript loader stay external; they are loaded from node_modules as usual.
    entry: ['src/bin.ts'],
    format: ['esm'],
    sourcemap: true,
    clean: ['bin.*'],
    target: 'node20',
    noExternal: [/.*/],
    esbuildOptions(options) {
      // The native driver cannot be bundled, and jiti loads its own files by relative path; both
      // are direct dependencies of this package so the bundle finds them in node_modules.
      // pg requires its optional native binding lazily, inside a try.
      options.external = [...(options.external ?? []), 'better-sqlite3', 'jiti', 'pg-native'];
    },
    banner: {
      // Bundled CommonJS dependencies still call require(); give the ES module one.
      js: "import { createRequire as __cmpkgCreateRequire } from 'node:module'; const require = __cmpkgCreateRequire(import.meta.url);",
    },
  },
]);
