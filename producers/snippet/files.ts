/** Where the built snippet lives: dist/snippet/ciclo.min.js at the repository root, from source or from dist/. */
import path from 'node:path';

/** This folder is producers/snippet, in the sources or compiled under dist/. */
const up = path.resolve(__dirname, '..', '..');
export const REPO_ROOT = path.basename(up) === 'dist' ? path.dirname(up) : up;

export const SNIPPET_FILE = path.join(REPO_ROOT, 'dist', 'snippet', 'ciclo.min.js');
export const SNIPPET_ENTRY = path.join(REPO_ROOT, 'producers', 'snippet', 'browser', 'main.ts');
