// Runs in each integration test worker: the endpoints global setup provisioned.
import fs from 'node:fs';
import path from 'node:path';

const file = path.resolve(__dirname, '..', '..', '.ciclo', 'test-services.json');
const { env } = JSON.parse(fs.readFileSync(file, 'utf8')) as { env: Record<string, string> };
Object.assign(process.env, env);
