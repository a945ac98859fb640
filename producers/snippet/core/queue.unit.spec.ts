import type { Call } from './calls';
import { enqueue, isAbandoned, jsonBytes, merge, parseQueue, takeBatch, without } from './queue';

const call = (messageId: string, timestamp = '2026-03-14T09:30:00.000Z', extra: Partial<Call> = {}): Call =>
  ({ type: 'track', messageId, event: 'E', timestamp, ...extra }) as Call;
const ids = (calls: readonly Call[]): string[] => calls.map((c) => c.messageId);
const limits = { maxItems: 3, maxCallBytes: 500 };

describe('enqueue', () => {
  it('appends, and drops the oldest beyond maxItems', () => {
    let items: Call[] = [];
    for (const id of ['a', 'b', 'c']) items = enqueue(items, call(id), limits).items;
    const { items: next, dropped } = enqueue(items, call('d'), limits);
    expect(ids(next)).toEqual(['b', 'c', 'd']);
    expect(ids(dropped)).toEqual(['a']);
  });

  it('refuses a call larger than maxCallBytes and keeps the queue as it was', () => {
    const big = call('big', undefined, { properties: { blob: 'x'.repeat(600) } });
    const { items, dropped } = enqueue([call('a')], big, limits);
    expect(ids(items)).toEqual(['a']);
    expect(dropped).toEqual([big]);
  });
});

describe('takeBatch', () => {
  const items = ['a', 'b', 'c', 'd', 'e'].map((id) => call(id));

  it('takes from the head, skipping calls in flight, up to maxCalls', () => {
    expect(ids(takeBatch(items, new Set(['a']), 2, 1e6))).toEqual(['b', 'c']);
    expect(ids(takeBatch(items, new Set(), 100, 1e6))).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(takeBatch(items, new Set(ids(items)), 100, 1e6)).toEqual([]);
  });

  it('stops at maxBytes, but always takes one call', () => {
    const one = jsonBytes(call('a')) + 1;
    expect(ids(takeBatch(items, new Set(), 100, one * 2))).toEqual(['a', 'b']);
    expect(ids(takeBatch(items, new Set(), 100, 10))).toEqual(['a']);
  });
});

describe('merge and without', () => {
  it('merges queues in call order, keeping a call present in both once', () => {
    const mine = [call('b', '2026-03-14T09:30:02.000Z'), call('x', '2026-03-14T09:30:05.000Z')];
    const theirs = [call('a', '2026-03-14T09:30:01.000Z'), call('x', '2026-03-14T09:30:05.000Z')];
    expect(ids(merge(mine, theirs))).toEqual(['a', 'b', 'x']);
  });

  it('removes by messageId', () => {
    expect(ids(without([call('a'), call('b')], new Set(['a'])))).toEqual(['b']);
  });
});

describe('parseQueue and isAbandoned', () => {
  it('reads a stored queue and tolerates anything else', () => {
    expect(parseQueue(JSON.stringify({ ack: 5, items: [call('a'), null, { x: 1 }] }))).toEqual({
      ack: 5,
      items: [call('a')],
    });
    for (const text of [null, '', 'not json', 'null', '[]', '{"ack":"x","items":[]}'])
      expect(parseQueue(text)).toBeUndefined();
  });

  it('a queue is abandoned once released (ack 0) or unacknowledged for staleMs', () => {
    expect(isAbandoned({ ack: 0, items: [] }, 1000, 60_000)).toBe(true);
    expect(isAbandoned({ ack: 1000, items: [] }, 50_000, 60_000)).toBe(false);
    expect(isAbandoned({ ack: 1000, items: [] }, 62_000, 60_000)).toBe(true);
  });
});
