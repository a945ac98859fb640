/**
 * Batches per partition out of @platformatic/kafka's message stream, which hands over one message at a time
 * and has no batch of its own: the messages of one partition that arrive together (one fetch response pushes
 * all its records in one go, before any timer runs) form a batch, as a kafkajs fetch's partition does.
 * Batches of a partition are handled one after the other, in order; batches of different partitions run
 * concurrently up to `concurrency`. The stream is paused while more than `maxQueued` messages wait, and
 * resumed below half of it, which bounds memory as kafkajs's fetch-then-process loop does.
 */
import type { MessagesStream } from '@platformatic/kafka' with { 'resolution-mode': 'import' };
import type { PlatformaticIncoming } from './messages';

export interface PartitionBatches {
  /** Resolves once every batch taken so far was handled; handlers still running finish first. */
  drained(): Promise<void>;
  /** Rejects with the first error of a handler (later batches are not handled). */
  readonly failed: Promise<never>;
}

export function partitionBatches(
  stream: MessagesStream<string, Buffer, string, string>,
  handle: (topic: string, partition: number, messages: PlatformaticIncoming[]) => Promise<void>,
  options: { concurrency: number; maxQueued: number },
): PartitionBatches {
  /** Messages of the current arrival, per topic-partition, not yet cut into batches. */
  let arriving = new Map<string, PlatformaticIncoming[]>();
  let cutScheduled = false;
  const queues = new Map<string, PlatformaticIncoming[][]>();
  const running = new Set<string>();
  let queued = 0;
  let paused = false;
  let failure: unknown;
  let fail!: (err: unknown) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined); // observed by whoever awaits it; never an unhandled rejection
  let idle: (() => void)[] = [];

  function cut(): void {
    cutScheduled = false;
    for (const [key, messages] of arriving) {
      const queue = queues.get(key);
      if (queue) queue.push(messages);
      else queues.set(key, [messages]);
    }
    arriving = new Map();
    pump();
  }

  function pump(): void {
    if (failure !== undefined) return;
    for (const [key, queue] of queues) {
      if (running.size >= options.concurrency) break;
      if (running.has(key) || queue.length === 0) continue;
      const batch = queue.shift()!;
      if (queue.length === 0) queues.delete(key);
      running.add(key);
      const first = batch[0]!;
      handle(first.topic, first.partition, batch).then(
        () => {
          running.delete(key);
          queued -= batch.length;
          if (paused && queued < options.maxQueued / 2) {
            paused = false;
            stream.resume();
          }
          pump();
        },
        (err: unknown) => {
          failure ??= err;
          fail(err);
        },
      );
    }
    if (running.size === 0 && queues.size === 0 && arriving.size === 0) {
      const waiting = idle;
      idle = [];
      for (const resolve of waiting) resolve();
    }
  }

  stream.on('data', (message: PlatformaticIncoming) => {
    const key = `${message.topic}:${message.partition}`;
    const list = arriving.get(key);
    if (list) list.push(message);
    else arriving.set(key, [message]);
    queued++;
    if (!paused && queued > options.maxQueued) {
      paused = true;
      stream.pause();
    }
    if (!cutScheduled) {
      cutScheduled = true;
      setImmediate(cut);
    }
  });

  return {
    failed,
    drained: () =>
      running.size === 0 && queues.size === 0 && arriving.size === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => idle.push(resolve)),
  };
}
