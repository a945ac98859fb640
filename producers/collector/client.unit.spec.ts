import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { prepareBatches, sendPreparedToCollector, sendToCollector } from './client';

/**
 * A stand-in collector: records each request body, answers `first` (503 by default, Retry-After 0) to the
 * first one and `then` to the others (202).
 */
async function fakeCollector(
  first: { status: number; body: string } = { status: 503, body: '{}' },
  then: { status: number; body: string } = { status: 202, body: '{}' },
): Promise<{ url: string; bodies: string[]; close(): Promise<void> }> {
  const bodies: string[] = [];
  let answeredFirst = false;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const answer = answeredFirst ? then : first;
      if (!answeredFirst) answeredFirst = true;
      if (answer.status === 202 || answer.status === 200) bodies.push(body);
      res
        .writeHead(answer.status, { 'content-type': 'application/json', 'retry-after': '0' })
        .end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bodies,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const calls = Array.from({ length: 23 }, (_, i) => ({ type: 'track', event: 'E', messageId: `m${i}` }));
const sentCalls = (bodies: string[]): unknown[] =>
  bodies
    .map((b) => (JSON.parse(b) as { batch: { messageId: string }[] }).batch)
    .sort((a, b) => Number(a[0]!.messageId.slice(1)) - Number(b[0]!.messageId.slice(1)))
    .flat();

describe('collector client', () => {
  it('prepareBatches: bodies of up to batchSize calls, in order, covering every call once', () => {
    const batches = prepareBatches(calls, 10);
    expect(batches.map((b) => [b.first, b.count])).toEqual([
      [0, 10],
      [10, 10],
      [20, 3],
    ]);
    expect(batches.flatMap((b) => (JSON.parse(b.body) as { batch: unknown[] }).batch)).toEqual(calls);
  });

  it.each([
    ['built per request', (url: string) => sendToCollector({ url, writeKey: 'k' }, calls, { batchSize: 10 })],
    ['prepared', (url: string) => sendPreparedToCollector({ url, writeKey: 'k' }, prepareBatches(calls, 10))],
  ])('sends every call (%s), retrying a 503', async (_how, sendAll) => {
    const collector = await fakeCollector();
    try {
      const report = await sendAll(collector.url);
      expect(report).toEqual({ accepted: 23, requests: 4, retries: 1 });
      expect(sentCalls(collector.bodies)).toEqual(calls);
    } finally {
      await collector.close();
    }
  });

  it('retries a 429 after Retry-After, and takes any 2xx', async () => {
    const collector = await fakeCollector({ status: 429, body: '{}' }, { status: 200, body: '{}' });
    try {
      const report = await sendToCollector({ url: collector.url, writeKey: 'k' }, calls, { batchSize: 10 });
      expect(report).toEqual({ accepted: 23, requests: 4, retries: 1 });
    } finally {
      await collector.close();
    }
  });

  it('stops at a 403, and at a 2xx that lists refused calls, naming the events', async () => {
    for (const refusal of [
      { status: 403, body: '{"code":"FORBIDDEN"}' },
      { status: 202, body: '{"accepted":9,"rejected":[{"index":3,"outcome":"dead-lettered"}]}' },
    ]) {
      const collector = await fakeCollector(refusal, refusal);
      try {
        await expect(
          sendToCollector({ url: collector.url, writeKey: 'k' }, calls, { batchSize: 10 }),
        ).rejects.toThrow(new RegExp(`answered ${refusal.status} for events 0-9`));
      } finally {
        await collector.close();
      }
    }
  });
});
