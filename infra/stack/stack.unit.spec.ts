import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config';
import { createStack } from './stack';

/** An HTTP service behind Basic auth (user default, password s3cret), as a hosted ClickHouse or registry. */
async function guardedService(): Promise<{ port: number; close: () => Promise<void> }> {
  const expected = `Basic ${Buffer.from('default:s3cret').toString('base64')}`;
  const server = http.createServer((req, res) => {
    res.statusCode = req.headers.authorization === expected ? 200 : 401;
    res.end(res.statusCode === 200 ? 'Ok.\n' : 'unauthorized');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('stack status of external services with credentials in their URLs', () => {
  it('probes them with the credentials as a header and never shows the password', async () => {
    const service = await guardedService();
    try {
      const config = loadConfig(
        {
          KAFKA_BROKERS: '127.0.0.1:1', // nothing listens: reported down, quickly
          CLICKHOUSE_URL: `http://default:s3cret@127.0.0.1:${service.port}`,
          SCHEMA_REGISTRY_URL: `http://default:s3cret@127.0.0.1:${service.port}/api`,
          CICLO_HOME: path.join(os.tmpdir(), 'ciclo-stack-spec-unused'),
        },
        process.cwd(),
      );
      const reports = await createStack(config).status();
      const byName = Object.fromEntries(reports.map((r) => [r.name, r]));
      expect(byName.clickhouse).toMatchObject({
        address: `http://default:***@127.0.0.1:${service.port}/`,
        health: { healthy: true },
      });
      expect(byName['schema-registry']).toMatchObject({ health: { healthy: true } });
      // What `stack status` prints (its table and --json) is made of these reports.
      expect(JSON.stringify(reports)).not.toContain('s3cret');
    } finally {
      await service.close();
    }
  });
});
