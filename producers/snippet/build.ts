/**
 * `npm run build:snippet`: bundles browser/main.ts with esbuild into one minified IIFE,
 * dist/snippet/ciclo.min.js, prints its size minified and gzipped, and fails when the gzipped size is over
 * the budget: the snippet is on every page of a customer's site, so its weight is a feature.
 * Type checking is tsc's job (`tsc -p producers/snippet/browser/tsconfig.json`, run first by the script).
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { build } from 'esbuild';
import { SNIPPET_ENTRY, SNIPPET_FILE } from './files';

export const BUDGET_GZIP_BYTES = 6 * 1024;

/** Bundles the snippet to `outfile`; its size in bytes, minified and gzipped. */
export async function buildSnippet(outfile = SNIPPET_FILE): Promise<{ minified: number; gzipped: number }> {
  const result = await build({
    entryPoints: [SNIPPET_ENTRY],
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['es2020'],
    platform: 'browser',
    legalComments: 'none',
    write: false,
    logLevel: 'warning',
  });
  const code = result.outputFiles[0]!.contents;
  fs.mkdirSync(path.dirname(outfile), { recursive: true });
  fs.writeFileSync(outfile, code);
  return { minified: code.byteLength, gzipped: zlib.gzipSync(code, { level: 9 }).byteLength };
}

async function main(): Promise<void> {
  const { minified, gzipped } = await buildSnippet();
  const kb = (n: number): string => `${(n / 1024).toFixed(2)} KB`;
  const rel = path.relative(process.cwd(), SNIPPET_FILE);
  process.stdout.write(
    `${rel}: ${kb(minified)} minified, ${kb(gzipped)} gzipped (budget ${kb(BUDGET_GZIP_BYTES)})\n`,
  );
  if (gzipped > BUDGET_GZIP_BYTES) {
    process.stderr.write(`${rel} is over its budget by ${gzipped - BUDGET_GZIP_BYTES} bytes gzipped\n`);
    process.exitCode = 1;
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
