import { callDeadLetterOf, DEAD_LETTER_HEADERS, problemsHeader } from './outputs';

describe("the collector's dead letters", () => {
  const at = Date.UTC(2026, 2, 14, 9, 30);

  it('keep the call as sent, keyed by its userId else anonymousId, with every problem and its sender', () => {
    const call = { type: 'page', anonymousId: 'a1', properties: { path: '/' } };
    const problems = [
      { path: 'batch.3.userId', rule: 'custom', message: 'userId or anonymousId is required' },
    ];
    const letter = callDeadLetterOf(call, { problems, sender: 'web', at: 'batch.3', failedAt: at });
    expect(letter).toEqual({
      key: 'a1',
      value: Buffer.from(JSON.stringify(call)),
      timestamp: at,
      headers: {
        [DEAD_LETTER_HEADERS.reason]: 'invalid',
        [DEAD_LETTER_HEADERS.error]: 'batch.3.userId: userId or anonymousId is required [custom]',
        [DEAD_LETTER_HEADERS.problems]: JSON.stringify(problems),
        [DEAD_LETTER_HEADERS.failedAt]: '2026-03-14T09:30:00.000Z',
        [DEAD_LETTER_HEADERS.stage]: 'collector',
        [DEAD_LETTER_HEADERS.sender]: 'web',
        [DEAD_LETTER_HEADERS.call]: 'batch.3',
      },
    });
    // No source topic: `ciclo dlq replay` leaves it; corrected touchpoints are its way back.
    expect(letter.headers).not.toHaveProperty(DEAD_LETTER_HEADERS.sourceTopic);
    expect(callDeadLetterOf({ userId: 42 }, { problems, sender: 'web', at: 'track', failedAt: at }).key).toBe(
      '42',
    );
    expect(callDeadLetterOf('text', { problems, sender: 'web', at: 'track', failedAt: at })).toMatchObject({
      key: null,
      value: Buffer.from('"text"'),
    });
  });

  it('carry as many problems as fit, then how many more there were', () => {
    const many = Array.from({ length: 2000 }, (_, i) => ({
      path: `batch.0.properties.products.${i}.price`,
      rule: 'required',
      message: 'price is required',
    }));
    const header = problemsHeader(many, 16_000);
    expect(header.length).toBeLessThanOrEqual(16_000);
    const kept = JSON.parse(header) as { path: string; rule: string; message: string }[];
    expect(kept.at(-1)).toEqual({
      path: '',
      rule: 'truncated',
      message: `${2000 - (kept.length - 1)} more problem(s)`,
    });
    expect(kept.slice(0, -1)).toEqual(many.slice(0, kept.length - 1));
  });
});
