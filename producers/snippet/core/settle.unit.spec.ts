import type { Call } from './calls';
import { settle } from './settle';

const call = (messageId: string): Call =>
  ({ type: 'track', messageId, event: 'E', timestamp: '2026-03-14T09:30:00.000Z' }) as Call;
const batch = [call('m0'), call('m1'), call('m2')];
const answer = (status: number, body: unknown = {}, retryAfter: string | null = null) => ({
  status,
  body,
  retryAfter,
});

describe('settle', () => {
  it('2xx delivers the batch', () => {
    expect(settle(answer(202), batch)).toEqual({ kind: 'delivered', dropped: [] });
  });

  it('2xx delivers the batch and reports the calls the collector refused in it, with its reasons', () => {
    const s = settle(
      answer(202, {
        success: true,
        accepted: 1,
        eventIds: ['seg:web:m0'],
        rejected: [
          { index: 1, outcome: 'dead-lettered', problems: [{ path: 'batch.1.event', message: 'required' }] },
          {
            index: 2,
            outcome: 'forbidden',
            problems: [{ path: 'batch.2.event', message: 'server key only' }],
          },
          { index: 9, outcome: 'forbidden', problems: [] },
        ],
      }),
      batch,
    );
    expect(s).toEqual({
      kind: 'delivered',
      dropped: [
        { call: batch[1], reasons: ['dead-lettered', 'batch.1.event: required'] },
        { call: batch[2], reasons: ['forbidden', 'batch.2.event: server key only'] },
      ],
    });
  });

  it('403 drops the calls the collector names as forbidden, and sends the rest again', () => {
    const s = settle(
      answer(403, {
        code: 'FORBIDDEN',
        problems: [{ path: 'batch.0.event', rule: 'browser_key_event_forbidden', message: 'server key' }],
      }),
      batch,
    );
    expect(s).toEqual({
      kind: 'rejected',
      dropped: [{ call: batch[0], reasons: ['batch.0.event: server key'] }],
    });
  });

  it('400 drops only the calls the collector names, with its reasons', () => {
    const s = settle(
      answer(400, {
        code: 'INVALID_REQUEST',
        problems: [
          { path: 'batch.1.properties.total', rule: 'invalid_format', message: 'must be a decimal amount' },
          { path: 'batch.1.properties.currency', rule: 'invalid_format', message: 'must be ISO 4217' },
          { path: 'batch.2', rule: 'custom', message: 'userId or anonymousId is required' },
        ],
      }),
      batch,
    );
    expect(s).toEqual({
      kind: 'rejected',
      dropped: [
        {
          call: batch[1],
          reasons: [
            'batch.1.properties.total: must be a decimal amount',
            'batch.1.properties.currency: must be ISO 4217',
          ],
        },
        { call: batch[2], reasons: ['batch.2: userId or anonymousId is required'] },
      ],
    });
  });

  it('400 naming no call drops the whole batch rather than retrying it forever', () => {
    const s = settle(answer(400, { problems: [{ path: '', message: 'the body is not valid JSON' }] }), batch);
    expect(s.kind === 'rejected' && s.dropped.map((d) => d.call.messageId)).toEqual(['m0', 'm1', 'm2']);
    const noBody = settle(answer(400, undefined), batch);
    expect(noBody.kind === 'rejected' && noBody.dropped).toHaveLength(3);
  });

  it('retries on no answer, 429 and 5xx, passing Retry-After on', () => {
    expect(settle(undefined, batch)).toEqual({ kind: 'retry', retryAfter: null });
    expect(settle(answer(429, {}, '7'), batch)).toEqual({ kind: 'retry', retryAfter: '7' });
    expect(settle(answer(503, { code: 'UNAVAILABLE' }, '1'), batch)).toEqual({
      kind: 'retry',
      retryAfter: '1',
    });
    expect(settle(answer(500), batch).kind).toBe('retry');
  });

  it('413 splits; other 4xx keep the calls (configuration, not data)', () => {
    expect(settle(answer(413), batch)).toEqual({ kind: 'too-large' });
    expect(settle(answer(401, { code: 'UNAUTHORIZED' }), batch)).toEqual({
      kind: 'refused',
      status: 401,
      code: 'UNAUTHORIZED',
    });
    expect(settle(answer(404, 'not json'), batch)).toEqual({ kind: 'refused', status: 404, code: undefined });
  });
});
