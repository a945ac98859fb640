/**
 * The collector's service as unit tests build it: the in-memory producer and JSON serde of
 * ../edge/fakes.ts, a fixed clock, two write keys (one a browser snippet's, one a backend's) and a logger
 * that keeps its JSON lines in memory, with ciclo's redaction. Tests send requests over a loopback socket
 * (test/support/loopback.ts) and close the app when done.
 */
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { createLogger, type Logger } from '../../infra/log';
import { collectorConfig, type CollectorConfig } from '../collector/config';
import { inMemoryProducer, jsonTouchpointSerde, type InMemoryProducer } from '../edge/fakes';
import { buildCollector, type CollectorDeps } from './server';

/** The instant the fixed clock reads: 2026-03-14 09:30 UTC. */
export const TEST_NOW = Date.UTC(2026, 2, 14, 9, 30);
/** A browser snippet's write key (source `web`) and a backend's (source `backend`). */
export const WEB_KEY = 'wk_web_public';
export const API_KEY = 'wk_backend_secret';

/** Segment's Basic auth: the write key as the user name, the password empty. */
export function basicAuth(writeKey: string): string {
  return `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
}

/** A pino logger writing JSON lines to memory, with ciclo's redaction. */
export function memoryLogger(level = 'info'): { log: Logger; lines: () => string[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const log = createLogger({ level, destination: stream });
  return { log, lines: () => chunks.join('').split('\n').filter(Boolean) };
}

export interface TestCollector {
  readonly app: FastifyInstance;
  readonly producer: InMemoryProducer;
  /** The log lines written so far, as JSON text. */
  readonly logs: () => string[];
}

export interface TestCollectorOptions extends Partial<Omit<CollectorDeps, 'config' | 'producer' | 'log'>> {
  /** Overrides of the collector's configuration (collectorConfig's defaults, WEB_KEY and API_KEY). */
  readonly config?: Partial<CollectorConfig>;
  readonly logLevel?: string;
}

export function testCollector(options: TestCollectorOptions = {}): TestCollector {
  const { config, logLevel, ...deps } = options;
  const producer = inMemoryProducer();
  const memory = memoryLogger(logLevel);
  const app = buildCollector({
    config: collectorConfig({
      writeKeys: new Map([
        [WEB_KEY, { name: 'web', kind: 'snippet' }],
        [API_KEY, { name: 'backend', kind: 'api' }],
      ]),
      ...config,
    }),
    producer,
    serde: jsonTouchpointSerde(),
    log: memory.log,
    clock: () => TEST_NOW,
    ...deps,
  });
  return { app, producer, logs: memory.lines };
}

/**
 * For a spec file's top level: a testCollector maker whose apps are closed after each test, even when an
 * expectation fails.
 */
export function testCollectorsClosedAfterEach(): (options?: TestCollectorOptions) => TestCollector {
  const apps: FastifyInstance[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });
  return (options = {}) => {
    const collector = testCollector(options);
    apps.push(collector.app);
    return collector;
  };
}

/** A server's Segment `track` call of a purchase, as the specs send it. */
export const ORDER_COMPLETED_CALL = {
  userId: 'cus_8c1f2a',
  event: 'Order Completed',
  timestamp: '2026-03-14T09:29:00Z',
  properties: {
    order_id: 'ord_1042',
    total: 32.97,
    currency: 'EUR',
    products: [{ sku: 'CD-0042', price: 12.99 }],
  },
};
