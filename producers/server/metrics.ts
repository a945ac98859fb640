/**
 * The collector's GET /metrics (Prometheus text, docs/metrics.md): its counters (../edge/counters.ts) since
 * the process started, read when scraped, and the process' own. As private as /health's details: the
 * counters tell a shop's traffic, so only a server write key (a source not in CICLO_SNIPPET_SOURCES) gets
 * them, sent as for /v1: HTTP Basic with the key as user name, which Prometheus sends with
 * `basic_auth: { username: <key> }`. Anyone else gets 401.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Metrics, Sample } from '../../infra/metrics/registry';
import type { CollectorConfig } from '../collector/config';
import type { Counters } from '../edge/counters';
import { replyError } from '../edge/replies';
import { fromServerKey } from './health';

interface CollectorMetric {
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly string[];
  series(c: Readonly<Counters>): readonly Sample[];
}

const one = (value: number): readonly Sample[] => [{ labels: {}, value }];

/** Why events were not produced: each counter of a refusal, as the `reason` label. */
const DISCARDED = {
  invalid: 'invalid',
  forbidden: 'forbidden',
  unauthorized: 'unauthorized',
  rateLimited: 'rate_limited',
  unavailable: 'unavailable',
  ignored: 'ignored',
  suppressed: 'suppressed',
} as const satisfies Partial<Record<keyof Counters, string>>;

/** Every counter has its metric (metrics.unit.spec.ts checks that none is left out). */
export const COLLECTOR_METRICS: readonly CollectorMetric[] = [
  {
    name: 'ciclo_collector_events_received_total',
    help: 'Events received (Segment calls, webhook events)',
    series: (c) => one(c.received),
  },
  {
    name: 'ciclo_collector_events_produced_total',
    help: 'Events produced to Kafka as touchpoints',
    series: (c) => one(c.produced),
  },
  {
    name: 'ciclo_collector_events_discarded_total',
    help:
      'Events not produced, by reason: invalid (dead-lettered), forbidden for the write key, unauthorized, ' +
      'rate_limited, unavailable (Kafka could not take them), ignored on purpose, suppressed (an id forgotten by `ciclo forget`)',
    labelNames: ['reason'],
    series: (c) =>
      Object.entries(DISCARDED).map(([key, reason]) => ({
        labels: { reason },
        value: c[key as keyof typeof DISCARDED],
      })),
  },
  {
    name: 'ciclo_collector_dead_letters_total',
    help: "Invalid calls written to the touchpoint topic's dead-letter topic",
    series: (c) => one(c.deadLettered),
  },
  {
    name: 'ciclo_collector_events_clamped_total',
    help: 'Events produced with their event time clamped to their receipt, by the kind of write key',
    labelNames: ['source'],
    series: (c) => [
      { labels: { source: 'snippet' }, value: c.clamped.snippet },
      { labels: { source: 'api' }, value: c.clamped.api },
    ],
  },
];

export function registerCollectorMetrics(metrics: Metrics, counters: Readonly<Counters>): void {
  for (const m of COLLECTOR_METRICS)
    metrics.observed(
      { name: m.name, help: m.help, type: 'counter', ...(m.labelNames ? { labelNames: m.labelNames } : {}) },
      () => m.series(counters),
    );
}

export function metricsHandler(options: {
  readonly config: CollectorConfig;
  readonly metrics: Metrics;
}): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
  return async (request, reply) => {
    if (!fromServerKey(request, options.config)) return replyError(reply, 'UNAUTHORIZED');
    const text = await options.metrics.exposition();
    return reply.header('cache-control', 'no-store').type(options.metrics.contentType).send(text);
  };
}
