import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CicloError } from './errors';
import { writeStackShape } from './stack/shape';
import { DEFAULT_SCHEMA_REGISTRY_URL, loadConfig } from './config';

describe('loadConfig', () => {
  it('defaults to the native stack on loopback, with nothing external', () => {
    const config = loadConfig({}, '/repo');
    expect(config.endpoints.kafka).toEqual({ brokers: ['127.0.0.1:9092'], external: false });
    expect(config.endpoints.schemaRegistry).toEqual({ url: DEFAULT_SCHEMA_REGISTRY_URL, external: false });
    expect(config.endpoints.clickhouse).toEqual({
      url: 'http://127.0.0.1:8123',
      urls: ['http://127.0.0.1:8123'],
      database: 'ciclo',
      external: false,
    });
    expect(config.home).toBe('/repo/.ciclo');
  });

  it('takes every endpoint from the environment and marks it external', () => {
    const config = loadConfig(
      {
        KAFKA_BROKERS: 'k1:9092, k2:9092',
        SCHEMA_REGISTRY_URL: 'http://sr:8081',
        CLICKHOUSE_URL: 'http://ch:8123',
        CLICKHOUSE_DATABASE: 'crm',
        CICLO_HOME: '/var/ciclo',
      },
      '/repo',
    );
    expect(config.endpoints.kafka).toEqual({ brokers: ['k1:9092', 'k2:9092'], external: true });
    expect(config.endpoints.schemaRegistry.external).toBe(true);
    expect(config.endpoints.clickhouse).toEqual({
      url: 'http://ch:8123',
      urls: ['http://ch:8123'],
      database: 'crm',
      external: true,
    });
    expect(config.home).toBe('/var/ciclo');
  });

  it('follows the shape of the stack `ciclo stack up` last ran in its home', () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ciclo-config-'));
    try {
      writeStackShape(home, { brokers: 3, clickhouseReplicas: 2, portOffset: 0 });
      const config = loadConfig({ CICLO_HOME: home }, '/repo');
      expect(config.endpoints.kafka.brokers).toEqual(['127.0.0.1:9092', '127.0.0.1:9094', '127.0.0.1:9096']);
      expect(config.endpoints.clickhouse).toMatchObject({
        url: 'http://127.0.0.1:8123',
        urls: ['http://127.0.0.1:8123', 'http://127.0.0.1:8124'],
        cluster: 'ciclo',
        external: false,
      });
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it('takes the replicas of an external ClickHouse cluster and its name from the environment', () => {
    const config = loadConfig(
      { CLICKHOUSE_URL: 'http://ch1:8123, http://ch2:8123', CLICKHOUSE_CLUSTER: 'analytics' },
      '/repo',
    );
    expect(config.endpoints.clickhouse).toMatchObject({
      url: 'http://ch1:8123',
      urls: ['http://ch1:8123', 'http://ch2:8123'],
      cluster: 'analytics',
      external: true,
    });
    expect(
      loadConfig({ CLICKHOUSE_URL: 'http://ch1:8123' }, '/repo').endpoints.clickhouse.cluster,
    ).toBeUndefined();
  });

  it('reports every invalid variable at once, by name', () => {
    let error: unknown;
    try {
      loadConfig(
        { KAFKA_BROKERS: 'no-port', CLICKHOUSE_URL: 'not a url', CLICKHOUSE_DATABASE: 'drop table' },
        '/repo',
      );
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CicloError);
    const message = (error as CicloError).message;
    expect(message).toContain('KAFKA_BROKERS');
    expect(message).toContain('each broker must be host:port');
    expect(message).toContain('CLICKHOUSE_URL');
    expect(message).toContain('CLICKHOUSE_DATABASE');
    expect((error as CicloError).code).toBe('CONFIG_INVALID');
  });

  it('is frozen: components cannot change it behind each other', () => {
    const config = loadConfig({}, '/repo');
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.endpoints)).toBe(true);
  });
});
