/**
 * The only place ciclo imports kafkajs (lint-enforced): kafkajs is in maintenance mode, and this folder is
 * the seam where another client can be swapped in. Everything outside sees ciclo's own types.
 */
import { Kafka, logLevel as KafkaLogLevel, type LogEntry } from 'kafkajs';
import type { Logger } from '../log';
import { levelOfKafkaEntry } from './log-levels';

export interface KafkaClientOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly log?: Logger;
  /** Connection timeout; health probes use a short one. */
  readonly connectionTimeoutMs?: number;
  readonly retries?: number;
}

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
        const name = levelOfKafkaEntry(namespace, level, String(message), fields);
        log[name]({ kafka: fields, label }, String(message));
      },
  });
}
