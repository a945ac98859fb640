// `npm run docs:schemas`: rewrites the generated part of schemas/README.md.
import fs from 'node:fs';
import path from 'node:path';
import { replaceGeneratedSection } from './docs';

const file = path.resolve(__dirname, '..', '..', 'schemas', 'README.md');
fs.writeFileSync(file, replaceGeneratedSection(fs.readFileSync(file, 'utf8')));
process.stdout.write(`wrote ${file}\n`);
