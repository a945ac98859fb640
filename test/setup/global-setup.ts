/** Jest global setup for integration tests: provision real services once and export their endpoints. */
import fs from 'node:fs';
import path from 'node:path';
import { endpointsToEnv, provisionServices, PROJECT_ROOT } from './services';

export const SERVICES_FILE = path.join(PROJECT_ROOT, '.ciclo', 'test-services.json');

export default async function globalSetup(): Promise<void> {
  const services = await provisionServices(process.env);
  const env = endpointsToEnv(services.endpoints);
  Object.assign(process.env, env); // workers are forked after this and inherit it
  fs.mkdirSync(path.dirname(SERVICES_FILE), { recursive: true });
  fs.writeFileSync(SERVICES_FILE, JSON.stringify({ source: services.source, env }, null, 2));
  (globalThis as { __cicloRelease?: () => Promise<void> }).__cicloRelease = services.release;
}
