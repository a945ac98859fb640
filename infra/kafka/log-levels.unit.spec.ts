import { logLevel } from 'kafkajs';
import { levelOfKafkaEntry } from './log-levels';

const CONCURRENT =
  'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing';

describe('the level of a kafkajs log entry', () => {
  it("maps kafkajs's own levels", () => {
    expect(
      [logLevel.ERROR, logLevel.WARN, logLevel.INFO, logLevel.DEBUG].map((l) =>
        levelOfKafkaEntry('Consumer', l, 'something', {}),
      ),
    ).toEqual(['error', 'warn', 'info', 'debug']);
  });

  it('logs at debug a transaction request refused while the coordinator completes the last one (retried)', () => {
    for (const request of ['AddPartitionsToTxn(key: 24, version: 1)', 'AddOffsetsToTxn(key: 25, version: 1)'])
      expect(
        levelOfKafkaEntry('Connection', logLevel.ERROR, `Response ${request}`, {
          error: CONCURRENT,
          correlationId: 7,
        }),
      ).toBe('debug');
  });

  it('keeps any other refusal of those requests, and that refusal of others, as a warning', () => {
    expect(
      levelOfKafkaEntry('Connection', logLevel.ERROR, 'Response AddPartitionsToTxn(key: 24, version: 1)', {
        error:
          'The producer attempted to use a producer id which is not currently assigned to its transactional id',
      }),
    ).toBe('warn');
    expect(
      levelOfKafkaEntry('Connection', logLevel.ERROR, 'Response EndTxn(key: 26, version: 1)', {
        error: CONCURRENT,
      }),
    ).toBe('warn');
  });

  it('logs what kafkajs handles itself as a warning, and what is expected by design at debug', () => {
    expect(
      levelOfKafkaEntry(
        'Runner',
        logLevel.ERROR,
        'The coordinator is not aware of this member, re-joining the group',
        {},
      ),
    ).toBe('warn');
    expect(
      levelOfKafkaEntry('Producer', logLevel.ERROR, 'Failed to send messages', {
        retryCount: 1,
        retryTime: 300,
      }),
    ).toBe('warn');
    expect(levelOfKafkaEntry('Producer', logLevel.ERROR, 'Failed to send messages', {})).toBe('error');
    expect(
      levelOfKafkaEntry('Producer', logLevel.WARN, 'KafkaJS v2.0.0 switched default partitioner', {}),
    ).toBe('debug');
  });
});
