/**
 * Issue 4's promise: never a 2xx for an event that might be lost. The collector runs against a Kafka broker
 * of this test's own, which is killed while requests keep coming: the collector answers 503 with Retry-After
 * while the broker is gone, 202 again once it is back, and every event that got a 202 is on the topic
 * afterwards. Events answered 503 are the sender's to retry; they may or may not be there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connectConsumer } from '../infra/kafka/consumer';
import { TOPICS } from '../schemas/topics';
import { CICLO_BIN, runCiclo } from './support/cli';
import { createOwnKafka, type OwnKafka } from './support/own-kafka';
import { eventually, uniqueName } from './support/services';
import { freePort } from '../infra/stack/processes';

describe('collector through a broker outage', () => {
  let kafka: OwnKafka;
  let collector: ChildProcess | undefined;
  let base: string;
  const writeKey = uniqueName('key');
  const auth = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;

  beforeAll(async () => {
    kafka = await createOwnKafka();
    const env = { KAFKA_BROKERS: kafka.brokers.join(',') };
    const ensured = await runCiclo(['topics', 'ensure'], { env });
    expect(ensured.stderr).toBe('');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    collector = spawn(process.execPath, [CICLO_BIN, 'collect', '--port', String(port)], {
      env: {
        ...process.env,
        ...env,
        CICLO_WRITE_KEYS: `web:${writeKey}`,
        CICLO_LOG_LEVEL: 'warn',
        // Short, so the outage shows as 503s within the test rather than after 10 s per request.
        CICLO_COLLECTOR_SEND_TIMEOUT_MS: '2000',
      },
      stdio: 'ignore',
    });
    await eventually(
      async () => ((await fetch(`${base}/health`)).ok ? true : undefined),
      60_000,
      'collector health',
    );
  }, 240_000);

  afterAll(async () => {
    if (collector && collector.exitCode === null) {
      const exited = new Promise((r) => collector!.once('exit', r));
      collector.kill('SIGTERM');
      await exited;
    }
    await kafka?.dispose();
  });

  it('answers 503 while Kafka is down and loses no event it answered 202', async () => {
    const run = uniqueName('outage');
    const accepted = new Set<string>();
    const statuses: number[] = [];
    let retryAfterSeen = false;
    let sent = 0;
    // One track per request, each with its own user id (the message key), so what arrived is checkable.
    const send = async (): Promise<number> => {
      const userId = `${run}-${sent++}`;
      const res = await fetch(`${base}/v1/track`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: auth },
        body: JSON.stringify({ userId, event: 'Product Viewed', messageId: `${userId}-m`, properties: {} }),
        signal: AbortSignal.timeout(30_000),
      });
      statuses.push(res.status);
      if (res.status === 202) accepted.add(userId);
      if (res.status === 503 && res.headers.get('retry-after')) retryAfterSeen = true;
      await res.arrayBuffer();
      return res.status;
    };
    // Four senders at once: some requests are in flight at the moment the broker dies.
    const sendUntil = async (done: () => boolean, deadlineMs: number, what: string): Promise<void> => {
      const deadline = Date.now() + deadlineMs;
      const worker = async (): Promise<void> => {
        while (!done()) {
          if (Date.now() > deadline) throw new Error(`${what} not reached in ${deadlineMs} ms`);
          await send();
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
    };

    await sendUntil(() => accepted.size >= 50, 60_000, '50 accepted events before the outage');

    const killed = kafka.kill();

    const countAfterKill = statuses.length;
    await sendUntil(
      () => statuses.slice(countAfterKill).filter((s) => s === 503).length >= 5,
      120_000,
      'five 503s during the outage',
    );
    await killed;
    const outage503 = statuses.slice(countAfterKill).filter((s) => s === 503).length;
    expect(retryAfterSeen).toBe(true);
    // Nothing but 202 and 503 is ever answered to a valid request.
    expect(new Set(statuses)).toEqual(new Set([202, 503]));

    await kafka.start();
    const acceptedBeforeReturn = accepted.size;
    await sendUntil(
      () => accepted.size >= acceptedBeforeReturn + 50,
      120_000,
      '50 more accepted events after the broker returned',
    );

    const arrived = new Set<string>();
    const consumer = await connectConsumer({
      brokers: kafka.brokers,
      groupId: uniqueName('it-outage'),
      topics: [TOPICS.touchpoints.name],
      fromBeginning: true,
      commitOffsets: false,
    });
    try {
      await consumer.run((batch) => {
        for (const m of batch) if (m.key?.startsWith(`${run}-`)) arrived.add(m.key);
        return Promise.resolve();
      });
      await eventually(
        () => Promise.resolve([...accepted].every((id) => arrived.has(id)) ? true : undefined),
        60_000,
        `all ${accepted.size} accepted events on the topic`,
      );
    } finally {
      await consumer.stop();
    }
    const missing = [...accepted].filter((id) => !arrived.has(id));
    expect(missing).toEqual([]);
    expect(outage503).toBeGreaterThanOrEqual(5);
  }, 400_000);
});
