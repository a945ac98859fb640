#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run automatically by `npm ci`).
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const entry = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  console.error('ciclo is not built yet: run `npm run build` (npm ci does it for you).');
  process.exit(1);
}
// On Node 24 every command has V8 count Buffers in the heap's growing limit (infra/external-memory.ts), and
// `ciclo process` gets the young generation of its Node version (infra/processor-heap.ts): on Node 20 it runs
// in a worker thread with a larger one.
require(path.join(__dirname, '..', 'dist', 'infra', 'external-memory.js')).countExternalMemoryInHeapLimit();
const run = () =>
  require(entry)
    .main(process.argv)
    .then(
      (code) => process.exit(code ?? 0),
      (err) => {
        console.error(err && err.stack ? err.stack : String(err));
        process.exit(1);
      },
    );
const command = process.argv.slice(2).find((arg) => !arg.startsWith('-'));
if (command === 'process')
  require(path.join(__dirname, '..', 'dist', 'infra', 'processor-heap.js')).startWithProcessorHeap(
    __filename,
    process.argv.slice(2),
    run,
  );
else run();
