// Writes schemas/portable-migration-v1.json from the built package, so the JSON Schema editors use
// is always the zod schema's own output. Runs after tsup in `pnpm build`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { portableMigrationJsonSchema } = await import(new URL('../dist/index.js', import.meta.url).href);

const target = join(root, 'schemas', 'portable-migration-v1.json');
mkdirSync(dirname(target), { recursive: true });
writeFileSync(target, `${JSON.stringify(portableMigrationJsonSchema(), null, 2)}\n`);
console.log(`wrote ${target}`);
