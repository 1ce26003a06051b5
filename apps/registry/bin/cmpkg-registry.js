#!/usr/bin/env node
// A committed launcher so the bin link exists before the first build.
import('../dist/bin.js');
