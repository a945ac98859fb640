/**
 * The only place ciclo imports kafkajs (lint-enforced): kafkajs is in maintenance mode, and this folder is
 * the seam where another client can be swapped in. Everything outside sees ciclo's own types.
 */
import { Kafka, logLevel as KafkaLogLevel, type LogEntry } from 'kafkajs';
import type { Logger } from '../log';

export interface KafkaClientOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly log?: Logger;
  /** Connection timeout; health probes use a short one. */
  readonly connectionTimeoutMs?: number;
  readonly retries?: number;
}

const levelName: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [KafkaLogLevel.ERROR]: 'error',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'info',
  [KafkaLogLevel.DEBUG]: 'debug',
};

export function createKafka(options: KafkaClientOptions): Kafka {
  const log = options.log;
  return new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    connectionTimeout: options.connectionTimeoutMs ?? 3000,
    requestTimeout: 30000,
    retry: { retries: options.retries ?? 8, initialRetryTime: 200, maxRetryTime: 5000 },
    logLevel: log ? KafkaLogLevel.WARN : KafkaLogLevel.NOTHING,
    logCreator:
      () =>
      ({ namespace, level, label, log: entry }: LogEntry) => {
        if (!log) return;
        const { message, ...fields } = entry;
        // kafkajs logs retriable coordinator errors, and a member rejoining its group (as happens while the
        // group rebalances or shuts down), at ERROR while it handles them itself; they are warnings.
        // Two warnings are expected by design and go to debug: we use the Java-compatible partitioner on
        // purpose, and idempotent producers with bounded retries, whose failed sends the caller handles.
        const expected = /switched default partitioner|Limiting retries for the idempotent producer/.test(
          String(message),
        );
        const name = expected
          ? 'debug'
          : level === KafkaLogLevel.ERROR &&
              (namespace === 'Connection' ||
                /re-joining the group/.test(String(message)) ||
                // An error kafkajs is about to retry (its retrier logs the attempt and the wait).
                ('retryCount' in fields && 'retryTime' in fields))
            ? 'warn'
            : (levelName[level] ?? 'info');
        log[name]({ kafka: fields, label }, String(message));
      },
  });
}
