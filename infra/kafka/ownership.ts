/**
 * Whether a failed transaction means this instance no longer owns the partition's transactional id: a new
 * owner fenced it (it initialised the same transactional id after a rebalance), or the transaction
 * coordinator expired or forgot the producer (a coordinator that moved to another broker aborts what timed
 * out and bumps the epoch, KIP-588). Kafka Streams handles these as TaskMigratedException: the task is
 * closed, its state thrown away, and the partition is processed again from its committed offset by whoever
 * owns it; it is not a crash. Anything else stays an error.
 *
 * kafkajs wraps a non-retriable protocol error in KafkaJSNonRetriableError keeping only its message, so the
 * message of the protocol error (from kafkajs' own table) identifies it too.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { errorCodes } = require('kafkajs/src/protocol/error') as {
  errorCodes: readonly { type: string; code: number; message: string }[];
};

/**
 * INVALID_PRODUCER_EPOCH (47), INVALID_PRODUCER_ID_MAPPING (49), PRODUCER_FENCED (90; newer than kafkajs,
 * which calls it an unknown code; brokers answer the request versions kafkajs sends with 47 instead).
 */
const OWNERSHIP_LOST = new Set([47, 49, 90]);
const MESSAGES = new Set([
  ...errorCodes.filter((e) => OWNERSHIP_LOST.has(e.code)).map((e) => e.message),
  // kafkajs' message for a code it does not know (protocol/error.js unknownErrorCode).
  'Unknown error code 90',
]);

/** A batch for a partition the instance gave up (revoked meanwhile): the new owner processes it. */
export class PartitionNotOwnedError extends Error {
  constructor(topic: string, partition: number) {
    super(`partition ${partition} of ${topic} is no longer owned by this instance`);
    this.name = 'PartitionNotOwnedError';
  }
}

export function isOwnershipLost(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof PartitionNotOwnedError) return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'number' && OWNERSHIP_LOST.has(code)) return true;
    if (MESSAGES.has(e.message)) return true;
  }
  return false;
}
