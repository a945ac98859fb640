import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BUDGET_GZIP_BYTES, buildSnippet } from './build';

describe('the snippet bundle', () => {
  it('is one self-contained script within its gzipped budget', async () => {
    const outfile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'snippet-')), 'ciclo.min.js');
    const { minified, gzipped } = await buildSnippet(outfile);
    expect(gzipped).toBeLessThanOrEqual(BUDGET_GZIP_BYTES);
    const code = fs.readFileSync(outfile, 'utf8');
    expect(code.length).toBe(minified);
    expect(code).not.toMatch(/\brequire\(|\bimport\b|\bexport\b/);
    expect(code).toMatch(/ciclo\.queue\./);
  });
});
