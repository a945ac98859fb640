/**
 * The level at which ciclo logs each of kafkajs's log entries. kafkajs logs at ERROR what it handles itself
 * (retriable coordinator errors, a member rejoining its group), so those are warnings here; what is expected
 * by design goes to debug, so that a warning still asks for a look.
 */
export type LogLevelName = 'error' | 'warn' | 'info' | 'debug';

/** kafkajs's levels (kafkajs `logLevel`): NOTHING 0, ERROR 1, WARN 2, INFO 4, DEBUG 5. */
const KAFKAJS_ERROR = 1;
const levelName: Record<number, LogLevelName> = { 1: 'error', 2: 'warn', 4: 'info', 5: 'debug' };

/**
 * Expected by design:
 * - ciclo uses the Java-compatible partitioner on purpose;
 * - idempotent producers have bounded retries, and their callers handle a failed send;
 * - a transaction's AddPartitionsToTxn or AddOffsetsToTxn refused with CONCURRENT_TRANSACTIONS while the
 *   coordinator completes the previous transaction: the kafkajs patch retries it (eosManager
 *   `whileCoordinatorBusy`), and the last refusal fails the transaction as before, which is logged where
 *   it is handled. Under load there are hundreds a minute, which would fill the processors' logs.
 */
const EXPECTED = /switched default partitioner|Limiting retries for the idempotent producer/;
const RETRIED_TRANSACTION_REQUEST = /^Response (AddPartitionsToTxn|AddOffsetsToTxn)\b/;
const CONCURRENT_TRANSACTIONS =
  'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing';

export function levelOfKafkaEntry(
  namespace: string,
  level: number,
  message: string,
  fields: Record<string, unknown>,
): LogLevelName {
  if (EXPECTED.test(message)) return 'debug';
  if (
    namespace === 'Connection' &&
    RETRIED_TRANSACTION_REQUEST.test(message) &&
    fields.error === CONCURRENT_TRANSACTIONS
  )
    return 'debug';
  if (
    level === KAFKAJS_ERROR &&
    (namespace === 'Connection' ||
      /re-joining the group/.test(message) ||
      // An error kafkajs is about to retry (its retrier logs the attempt and the wait).
      ('retryCount' in fields && 'retryTime' in fields))
  )
    return 'warn';
  return levelName[level] ?? 'info';
}
