/**
 * The collector fuzzed over HTTP (the in-process app of ../server/fakes.ts on a loopback socket) with the
 * random requests of test/support/segment-fuzz.ts: Segment calls valid and broken, and byte soup, plain
 * and compressed. With a fixed seed, so a failure repeats.
 *
 * For every request: no 500 or other 5xx but 503; a 2xx lists as eventIds exactly the touchpoints that
 * request produced, and as dead-lettered exactly its dead letters; any other answer produced no touchpoint.
 * And the collector still answers afterwards.
 */
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import type { OutgoingMessage } from '../../infra/kafka/types';
import { isLinkCopy } from '../../schemas/topics';
import { loopbackInject } from '../../test/support/loopback';
import { fuzzRequest, httpRequestOf } from '../../test/support/segment-fuzz';
import { API_KEY, WEB_KEY, testCollector } from '../server/fakes';

const SEED = 20_2026;
const RUNS = 1500;

const eventIdOf = (m: OutgoingMessage): string =>
  (JSON.parse((m.value ?? Buffer.alloc(0)).toString('utf8')) as { eventId: string }).eventId;

describe('the collector, fuzzed', () => {
  let app: FastifyInstance | undefined;
  afterAll(async () => {
    await app?.close();
  });

  it(`answers ${RUNS} random requests without a 5xx but 503, and produces exactly what it accepts`, async () => {
    const collector = testCollector({ config: { rateLimit: undefined } });
    app = collector.app;
    const { producer } = collector;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fuzzRequest, async (req) => {
        const { path, headers, payload } = httpRequestOf(req, { api: API_KEY, web: WEB_KEY });
        const before = producer.sent.length;
        const res = await loopbackInject(app!, { method: 'POST', url: path, headers, payload });
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        expect(res.statusCode < 500 || res.statusCode === 503).toBe(true);
        const sends = producer.sent.slice(before);
        const produced = sends
          .filter((s) => !s.topic.endsWith('.dlq'))
          .flatMap((s) => s.messages.filter((m) => !isLinkCopy(m.headers ?? {})).map(eventIdOf));
        const deadLetters = sends.filter((s) => s.topic.endsWith('.dlq')).flatMap((s) => s.messages);
        if (res.statusCode === 200 || res.statusCode === 202) {
          const body = res.json<{
            accepted: number;
            eventIds: string[];
            rejected?: { outcome: string }[];
          }>();
          expect(produced).toEqual(body.eventIds);
          expect(body.accepted).toBe(produced.length);
          expect(deadLetters.length).toBe(
            (body.rejected ?? []).filter((r) => r.outcome === 'dead-lettered').length,
          );
        } else {
          expect(res.statusCode).not.toBe(201);
          expect(produced).toEqual([]);
          // Only a 400 of calls judged invalid one by one keeps them, as dead letters.
          if (deadLetters.length > 0) expect([400, 403]).toContain(res.statusCode);
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    // Still up, and every kind of answer was seen.
    expect((await loopbackInject(app, { method: 'GET', url: '/health' })).statusCode).toBe(200);
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([200, 202, 400, 401, 403, 413, 415]));
  }, 60_000);
});
