import { KafkaJSNonRetriableError, KafkaJSProtocolError } from 'kafkajs';
import { isOwnershipLost, PartitionNotOwnedError } from './ownership';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createErrorFromCode } = require('kafkajs/src/protocol/error') as {
  createErrorFromCode: (code: number) => KafkaJSProtocolError;
};

describe('ownership lost', () => {
  it('recognises a fenced or expired producer, as kafkajs raises it and as its retry wraps it', () => {
    for (const code of [47, 49, 90]) {
      const protocol = createErrorFromCode(code);
      expect(isOwnershipLost(protocol)).toBe(true);
      expect(isOwnershipLost(new KafkaJSNonRetriableError(protocol))).toBe(true);
      expect(isOwnershipLost(new Error('batch failed', { cause: protocol }))).toBe(true);
    }
    expect(isOwnershipLost(new PartitionNotOwnedError('t', 3))).toBe(true);
  });

  it('leaves every other failure an error', () => {
    expect(isOwnershipLost(createErrorFromCode(6))).toBe(false); // NOT_LEADER_FOR_PARTITION
    expect(isOwnershipLost(createErrorFromCode(48))).toBe(false); // INVALID_TXN_STATE: a bug, not a fence
    expect(isOwnershipLost(new KafkaJSNonRetriableError(new Error('Connection error')))).toBe(false);
    expect(isOwnershipLost(new Error('state rejected'))).toBe(false);
    expect(isOwnershipLost('a string')).toBe(false);
  });
});
