/** Placeholder: replaced once the Apicurio build is settled. */
import path from 'node:path';
import { CicloError } from '../errors';
import type { NativeService } from './service';
import { STACK_PORTS } from './versions';

export function schemaRegistryService(home: string): NativeService {
  const dir = path.join(home, 'registry');
  return {
    name: 'schema-registry',
    address: `http://127.0.0.1:${STACK_PORTS.schemaRegistry}`,
    ports: [STACK_PORTS.schemaRegistry],
    logFile: path.join(dir, 'registry.log'),
    pidFile: path.join(dir, 'registry.pid'),
    startTimeoutMs: 120_000,
    install: () => Promise.reject(new CicloError('PREREQUISITE_MISSING', 'registry not yet wired')),
    start: () => Promise.resolve(),
    probe: () => Promise.resolve({ healthy: false, detail: 'not wired' }),
  };
}
