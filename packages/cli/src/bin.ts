import { main } from './index.js';

// The executable: no logic here, so everything is testable through `main`. No top-level await:
// tsup also builds a CommonJS copy of this entry, and CJS has none.
void main(process.argv).then((code) => {
  process.exitCode = code;
});
