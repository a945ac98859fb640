/**
 * The full output behind a golden test's stored digests, kept on this machine so that a later failure can
 * show what changed rather than only that a digest did. Nothing is committed: a test stores its output
 * when it matches the digests (under the digests' own key, so a stored output is always the one they were
 * made from) and reads it back when it does not. Whether a test passes never depends on it; without a stored
 * output (a fresh clone) a failure says how to get one.
 *
 * Kept under node_modules/.cache/ciclo/, where tools keep their caches: `npm ci` clears it.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

const ROOT = path.resolve(__dirname, '..', '..', 'node_modules', '.cache', 'ciclo');

/** The file for `name` made from these digests. */
function fileOf(name: string, digests: unknown): string {
  const key = createHash('sha256').update(JSON.stringify(digests)).digest('hex').slice(0, 16);
  return path.join(ROOT, name, `${key}.json.gz`);
}

/** Stores the output the digests were made from, unless it is stored already; drops older outputs of `name`. */
export function keepGoldenOutput(name: string, digests: unknown, output: unknown): void {
  const file = fileOf(name, digests);
  if (fs.existsSync(file)) return;
  const dir = path.dirname(file);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  // Written whole, then renamed: a run stopped half way leaves no truncated file behind.
  fs.writeFileSync(`${file}.tmp`, gzipSync(JSON.stringify(output), { level: 1 }));
  fs.renameSync(`${file}.tmp`, file);
}

/** The output these digests were made from, if this machine has stored it. */
export function storedGoldenOutput<T>(name: string, digests: unknown): T | undefined {
  const file = fileOf(name, digests);
  if (!fs.existsSync(file)) return undefined;
  return JSON.parse(gunzipSync(fs.readFileSync(file)).toString('utf8')) as T;
}
