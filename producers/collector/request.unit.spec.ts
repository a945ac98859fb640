import { isContractChecked } from '../edge/check';
import { answerTo } from './answer';
import { CUT } from './depth';
import type { CollectContext } from './mapping';
import { callCount, judgeSegmentRequest, type CallVerdict } from './request';

const receivedAt = Date.UTC(2026, 2, 14, 9, 30, 1);
const server: CollectContext = {
  source: { kind: 'api', name: 'shop' },
  receivedAt,
  defaultCurrency: 'EUR',
  urlQueryAllowlist: [],
  ipRetention: 'none',
};
const browser: CollectContext = { ...server, source: { kind: 'snippet', name: 'web' } };

/** Given a request, when it is judged, then each call gets this verdict (kind and index, problems' paths). */
function verdicts(route: Parameters<typeof judgeSegmentRequest>[0], body: unknown, ctx = server) {
  const judged = judgeSegmentRequest(route, body, ctx);
  if (!judged.ok) throw new Error(`refused whole: ${JSON.stringify(judged.problems)}`);
  return judged.verdicts.map((v) =>
    v.kind === 'invalid' || v.kind === 'forbidden'
      ? [v.kind, v.index, v.problems.map((p) => `${p.path} ${p.rule}`)]
      : [v.kind, v.index],
  );
}

const purchase = {
  type: 'track',
  userId: 'u1',
  event: 'Order Completed',
  properties: { order_id: 'o1', total: 12.5 },
};

describe('a request judged call by call', () => {
  it('keeps every valid call of a batch, whatever the others are', () => {
    let deep: unknown = {};
    for (let i = 0; i < 40; i++) deep = { deeper: deep };
    expect(
      verdicts('batch', {
        batch: [
          { type: 'page', anonymousId: 'a1' },
          { type: 'group', userId: 'u1', groupId: 'acme', traits: { plan: 'enterprise' } },
          { type: 'screen' },
          'not a call',
          { type: 'flush', userId: 'u1' },
          JSON.parse('{"type": "identify", "userId": 9007199254740993}'),
          { type: 'track', userId: 'u1', event: 'Deep', properties: deep },
          { type: 'group', userId: 'u1' },
          purchase,
        ],
      }),
    ).toEqual([
      ['accepted', 0],
      ['ignored', 1],
      ['invalid', 2, ['batch.2.userId custom']],
      ['invalid', 3, ['batch.3.type invalid_value']],
      ['invalid', 4, ['batch.4.type invalid_value']],
      ['invalid', 5, ['batch.5.userId custom']],
      ['invalid', 6, ['batch.6 too_deep']],
      ['invalid', 7, ['batch.7.groupId invalid_union']],
      ['accepted', 8],
    ]);
  });

  it("judges a browser key's calls by its rights before anything else: forbidden, even when invalid", () => {
    expect(
      verdicts(
        'batch',
        {
          batch: [
            { type: 'page', anonymousId: 'a1' },
            purchase,
            { ...purchase, properties: { total: 'lots' } },
            { type: 'track', event: 'Marketing Spend Recorded', properties: { channel: 'ads', amount: 5 } },
            { type: 'alias', userId: 'cus_2', anonymousId: 'a1', previousId: 'cus_1' },
            { type: 'alias', userId: 'cus_2', anonymousId: 'a1', previousId: 'a1' },
          ],
        },
        browser,
      ),
    ).toEqual([
      ['accepted', 0],
      ['forbidden', 1, ['batch.1.event browser_key_event_forbidden']],
      ['forbidden', 2, ['batch.2.event browser_key_event_forbidden']],
      ['forbidden', 3, ['batch.3.event browser_key_event_forbidden']],
      ['forbidden', 4, ['batch.4.previousId browser_key_alias_of_other_id']],
      ['accepted', 5],
    ]);
    expect(verdicts('track', purchase, browser)).toEqual([
      ['forbidden', 0, ['event browser_key_event_forbidden']],
    ]);
  });

  it('keeps each invalid call as sent for its dead letter, cut where it nests too deep', () => {
    const judged = judgeSegmentRequest(
      'batch',
      {
        batch: [
          { type: 'page' },
          {
            type: 'page',
            anonymousId: 'a',
            properties: JSON.parse(
              '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]',
            ) as unknown,
          },
        ],
      },
      server,
    );
    if (!judged.ok) throw new Error('refused whole');
    const [first, second] = judged.verdicts;
    expect(first).toMatchObject({ kind: 'invalid', at: 'batch.0', call: { type: 'page' } });
    expect(second).toMatchObject({ kind: 'invalid', at: 'batch.1' });
    expect(JSON.stringify((second as CallVerdict & { call: unknown }).call)).toContain(CUT);
  });

  it('judges the one call of a single-call route, its problems at the call’s own paths', () => {
    expect(verdicts('group', { anonymousId: 'a1', groupId: 7 })).toEqual([['ignored', 0]]);
    expect(verdicts('page', {})).toEqual([['invalid', 0, ['userId custom']]]);
    const judged = judgeSegmentRequest('page', {}, server);
    expect(judged.ok && judged.verdicts[0]).toMatchObject({ at: 'page' });
  });

  it('marks the touchpoints as checked by the contract, so publishing does not check them again', () => {
    const judged = judgeSegmentRequest('batch', { batch: [{ type: 'page', anonymousId: 'a1' }] }, server);
    expect(judged.ok && isContractChecked(judged.touchpoints)).toBe(true);
  });

  it('refuses whole only a body that is no request', () => {
    expect(judgeSegmentRequest('batch', { batch: [] }, server)).toMatchObject({
      ok: false,
      problems: [{ path: 'batch', rule: 'too_small' }],
    });
    expect(judgeSegmentRequest('batch', 'text', server).ok).toBe(false);
    let deep: unknown = {};
    for (let i = 0; i < 40; i++) deep = { deeper: deep };
    expect(judgeSegmentRequest('batch', { context: { deep }, batch: [{ type: 'page' }] }, server)).toEqual({
      ok: false,
      problems: [{ path: 'context', rule: 'too_deep', message: 'nests deeper than 32 levels' }],
    });
  });

  it('counts calls as sent', () => {
    expect(callCount('track', {})).toBe(1);
    expect(callCount('batch', { batch: [1, 2, 3] })).toBe(3);
    expect(callCount('batch', 'text')).toBe(1);
  });
});

describe('the answer to a judged request', () => {
  const judged = (body: unknown, ctx = server) => {
    const j = judgeSegmentRequest('batch', body, ctx);
    if (!j.ok) throw new Error('refused whole');
    return answerTo(j.verdicts);
  };

  it('is 202 when anything was produced, listing what was ignored or refused', () => {
    const answer = judged({
      batch: [
        { type: 'page', anonymousId: 'a1', messageId: 'm1' },
        { type: 'group', userId: 'u', groupId: 'g' },
        { type: 'page' },
      ],
    });
    expect(answer).toEqual({
      status: 202,
      body: {
        success: true,
        accepted: 1,
        eventIds: ['seg:shop:m1'],
        ignored: [
          {
            index: 1,
            type: 'group',
            reason: expect.stringContaining('group calls are not recorded') as unknown,
          },
        ],
        rejected: [
          {
            index: 2,
            outcome: 'dead-lettered',
            problems: [expect.objectContaining({ path: 'batch.2.userId' })],
          },
        ],
      },
    });
  });

  it('is 200 for ignored calls alone, 403 when a call was forbidden and none produced, else 400', () => {
    expect(judged({ batch: [{ type: 'group', userId: 'u', groupId: 'g' }] })).toMatchObject({
      status: 200,
      body: { success: true, accepted: 0, eventIds: [] },
    });
    expect(judged({ batch: [purchase, { type: 'page' }] }, browser)).toMatchObject({
      status: 403,
      body: {
        code: 'FORBIDDEN',
        detail:
          '1 of 2 call(s) forbidden for this write key; 1 of 2 call(s) invalid, kept on the dead-letter topic with their problems; none was produced',
        problems: [
          expect.objectContaining({ path: 'batch.0.event', rule: 'browser_key_event_forbidden' }),
          expect.objectContaining({ path: 'batch.1.userId' }),
        ],
      },
    });
    expect(judged({ batch: [{ type: 'page' }] })).toMatchObject({
      status: 400,
      body: { code: 'INVALID_REQUEST' },
    });
  });
});
