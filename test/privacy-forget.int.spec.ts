/**
 * `ciclo forget` on the real stack (issue 21's done-when): a person sent through the collector (a page with an
 * anonymous id, an identify with email and name, a purchase) reaches ClickHouse; `ciclo forget <customer id>`
 * exits 0; then no table of the test's ClickHouse database holds a row with the person's ids, email or name,
 * no topic of the pipeline yields the email or name through `ciclo topics tail --from-beginning`, and a new
 * touchpoint of theirs is suppressed and never reaches ClickHouse. Also: forget by a merged (anonymous) id,
 * forget twice, and forget while the processor is SIGKILLed and restarted.
 *
 * The pipeline is the user's: `ciclo collect` and `ciclo process` as child processes, the projector in this
 * process, on topics of a namespace of the test's own and a ClickHouse database of its own. Another person,
 * sent alongside, stays whole: that proves the checks can see what they look for.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectClickHouseServer, type ClickHouseEngine } from '../infra/clickhouse/engine';
import { connectTopicAdmin } from '../infra/kafka/admin';
import { createLogger } from '../infra/log';
import { loadInstallationSecret } from '../infra/privacy/installation-secret';
import { createAvroRegistry } from '../infra/registry/schema-registry';
import { provisionTopicsAndSchemas } from '../infra/registry/provision';
import { freePort } from '../infra/stack/processes';
import { migrate } from '../projections/migrations/migrate';
import { startProjector, type RunningProjector } from '../projections/projector/projector';
import { identifier, stringLiteral } from '../projections/sql';
import { emailAnonymousId } from '../schemas/pseudonym';
import { namespacedTopics, projectorGroupOf } from '../schemas/topics';
import { holders } from './support/clickhouse-scan';
import { CICLO_BIN, runCiclo } from './support/cli';
import { eventually, testConfig, uniqueName } from './support/services';

const config = testConfig();
const NS = uniqueName('itfg').replace(/-/g, '_');
const DB = NS;
const topics = namespacedTopics(NS);
const endpoints = { ...config.endpoints, clickhouse: { ...config.endpoints.clickhouse, database: DB } };
const env = { CLICKHOUSE_DATABASE: DB, CICLO_LOG_LEVEL: 'warn' };
const secret = loadInstallationSecret(config.home, config.pseudonymSecret);
const SK = 'sk-forget';
const PROCESSOR_LOG = path.join(os.tmpdir(), `${NS}-processor.log`);
const auth = `Basic ${Buffer.from(`${SK}:`).toString('base64')}`;

interface Person {
  readonly customer: string;
  readonly anonymous: string;
  readonly email: string;
  readonly name: string;
}

const person = (tag: string): Person => ({
  customer: `cust-${tag}-${NS}`,
  anonymous: `anon-${tag}-${NS}`,
  email: `${tag}.${NS}@example.org`,
  name: `${tag[0]!.toUpperCase()}${tag.slice(1)} Q. Testperson`,
});

describe('ciclo forget on the real stack', () => {
  let collector: ChildProcess;
  let processor: ChildProcess;
  let projector: RunningProjector;
  let clickhouse: ClickHouseEngine;
  let base: string;
  let sent = 0;

  const startProcessor = (): ChildProcess =>
    spawn(process.execPath, [CICLO_BIN, 'process', '--topics-prefix', NS, '--idle-flush', '200'], {
      env: { ...process.env, ...env },
      // What a processor that stops says is what a failure here needs.
      stdio: ['ignore', 'ignore', fs.openSync(PROCESSOR_LOG, 'a')],
    });

  async function send(calls: object[]): Promise<number> {
    const res = await fetch(`${base}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: auth },
      body: JSON.stringify({ batch: calls }),
    });
    return res.status;
  }

  const at = (): string => new Date(Date.now() - 60_000 + sent++).toISOString();

  /** A page as the anonymous visitor, an identify with email and name, a purchase. */
  function journey(p: Person): object[] {
    return [
      {
        type: 'page',
        anonymousId: p.anonymous,
        messageId: `${p.anonymous}-page`,
        timestamp: at(),
        context: {
          page: { url: `https://shop.example/welcome?email=${p.email}&utm_source=news` },
          ip: '203.0.113.9',
        },
        properties: { path: '/welcome', title: `Hello ${p.name}` },
      },
      {
        type: 'identify',
        userId: p.customer,
        anonymousId: p.anonymous,
        messageId: `${p.anonymous}-identify`,
        timestamp: at(),
        traits: { email: p.email, name: p.name },
      },
      {
        type: 'track',
        userId: p.customer,
        event: 'Order Completed',
        messageId: `${p.anonymous}-order`,
        timestamp: at(),
        properties: { order_id: `o-${p.anonymous}`, total: 42.5, currency: 'EUR' },
      },
    ];
  }

  const count = async (sql: string): Promise<number> =>
    Number((await clickhouse.query<{ n: string }>(sql))[0]?.n ?? 0);
  const rowsOf = (id: string): Promise<number> =>
    count(
      `SELECT count() AS n FROM ${identifier(DB)}.touchpoints WHERE customer_id = ${stringLiteral(id)} OR anonymous_id = ${stringLiteral(id)}`,
    );
  const stateOf = (id: string): Promise<number> =>
    count(
      `SELECT count() AS n FROM ${identifier(DB)}.customer_state WHERE customer_id = ${stringLiteral(id)}`,
    );

  /** Waits until ClickHouse has the person's three touchpoints and their lifecycle state. */
  async function projected(p: Person): Promise<void> {
    await eventually(
      async () =>
        (await rowsOf(p.customer)) + (await rowsOf(p.anonymous)) >= 3 && (await stateOf(p.customer)) > 0
          ? true
          : undefined,
      90_000,
      `${p.customer} in ClickHouse`,
    );
  }

  async function forget(id: string): Promise<Record<string, unknown>> {
    const result = await runCiclo(['forget', id, '--namespace', NS, '--json', '--wait', '120'], {
      env,
      timeoutMs: 240_000,
    });
    expect({
      code: result.code,
      stderr: result.stderr,
      stdout: result.code === 0 ? '' : result.stdout,
    }).toEqual({
      code: 0,
      stderr: '',
      stdout: '',
    });
    return JSON.parse(result.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  }

  /** Every ClickHouse table and column that holds any of the person's ids, email or name. */
  const traces = (p: Person): Promise<string[]> =>
    holders(clickhouse, DB, [p.customer, p.anonymous, p.email, p.name, emailAnonymousId(secret, p.email)]);

  /** What `ciclo topics tail --from-beginning --json` prints for every topic of the pipeline. */
  async function tailEverything(): Promise<string> {
    const admin = await connectTopicAdmin(endpoints.kafka.brokers);
    const names = (await admin.listTopics()).filter((t) => t.startsWith(`${NS}.`));
    await admin.close();
    const outputs = await Promise.all(
      names.map((t) =>
        runCiclo(['topics', 'tail', t, '--from-beginning', '--json', '--timeout', '8'], { env }),
      ),
    );
    for (const [i, o] of outputs.entries())
      expect({ topic: names[i], code: o.code }).toEqual({ topic: names[i], code: 0 });
    return outputs.map((o) => o.stdout).join('\n');
  }

  beforeAll(async () => {
    const admin = await connectTopicAdmin(endpoints.kafka.brokers);
    await provisionTopicsAndSchemas(
      admin,
      createAvroRegistry(endpoints.schemaRegistry.url),
      Object.values(topics),
    );
    await admin.close();
    clickhouse = connectClickHouseServer({ url: endpoints.clickhouse.url });
    await clickhouse.command(`CREATE DATABASE IF NOT EXISTS ${identifier(DB)}`);
    await migrate(clickhouse, DB);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    collector = spawn(
      process.execPath,
      [CICLO_BIN, 'collect', '--port', String(port), '--topic', topics.touchpoints.name],
      { env: { ...process.env, ...env, CICLO_WRITE_KEYS: `shop:${SK}` }, stdio: 'ignore' },
    );
    processor = startProcessor();
    projector = await startProjector({
      endpoints,
      log: createLogger({ level: 'warn', name: 'it-forget-projector' }),
      secret,
      groupId: projectorGroupOf(NS),
      topics: {
        touchpoints: topics.touchpoints.name,
        stageChanges: topics.stageChanges.name,
        customerSnapshots: topics.customerSnapshots.name,
        deadLetter: topics.projectorDeadLetter.name,
      },
      maxWaitTimeMs: 100,
      minBytes: 1,
    });
    await eventually(
      () => fetch(`${base}/health`).then((r) => (r.ok ? true : undefined)),
      60_000,
      'collector up',
    );
  }, 180_000);

  afterAll(async () => {
    collector?.kill('SIGTERM');
    processor?.kill('SIGTERM');
    await projector?.stop();
    await clickhouse?.command(`DROP DATABASE IF EXISTS ${identifier(DB)}`);
    await clickhouse?.close();
    const admin = await connectTopicAdmin(endpoints.kafka.brokers);
    const names = (await admin.listTopics()).filter((t) => t.startsWith(`${NS}.`));
    await admin.deleteTopics(names);
    await admin.close();
  });

  it('forgets a person everywhere, keeps suppressing them, and a second forget is a no-op', async () => {
    const ada = person('ada');
    const bob = person('bob');
    expect(await send([...journey(ada), ...journey(bob)])).toBe(202);
    await projected(ada);
    await projected(bob);
    expect(await traces(ada)).not.toEqual([]);
    const before = await tailEverything();
    // The tail opens sealed fields: the check below could see an email if one were left.
    expect(before).toContain(ada.email);
    expect(before).toContain(bob.name);

    const report = await forget(ada.customer);
    expect(report).toMatchObject({ complete: true, pending: [] });
    expect(report.ids).toBeGreaterThanOrEqual(3);
    expect(report.keysDestroyed).toBeGreaterThanOrEqual(1);

    expect(await traces(ada)).toEqual([]);
    expect(await traces(bob)).not.toEqual([]);
    const after = await tailEverything();
    expect(after).not.toContain(ada.email);
    expect(after).not.toContain(ada.name);
    expect(after).toContain(bob.name);

    // A new touchpoint of hers is taken (202) and dropped; one of Bob's sent after it arrives.
    expect(
      await send([
        {
          type: 'track',
          userId: ada.customer,
          event: 'Order Completed',
          messageId: `${ada.customer}-again`,
          timestamp: at(),
          properties: { order_id: 'o-again', total: 5, currency: 'EUR' },
        },
        {
          type: 'track',
          userId: bob.customer,
          event: 'Signed Up',
          messageId: `${bob.customer}-later`,
          timestamp: at(),
        },
      ]),
    ).toBe(202);
    await eventually(
      async () =>
        (await count(
          `SELECT count() AS n FROM ${identifier(DB)}.touchpoints WHERE event_id LIKE ${stringLiteral(`%${bob.customer}-later%`)}`,
        )) > 0
          ? true
          : undefined,
      60_000,
      "Bob's later event in ClickHouse",
    );
    expect(await rowsOf(ada.customer)).toBe(0);
    const health = (await (await fetch(`${base}/health`, { headers: { authorization: auth } })).json()) as {
      counters?: { suppressed?: number };
    };
    expect(health.counters?.suppressed).toBe(1);

    const again = await forget(ada.customer);
    expect(again).toMatchObject({ complete: true, keysDestroyed: 0 });
    expect(Object.values(again.clickhouseRowsDeleted as Record<string, number>).every((n) => n === 0)).toBe(
      true,
    );
  }, 600_000);

  it('forgets a person by a merged anonymous id', async () => {
    const cy = person('cy');
    expect(await send(journey(cy))).toBe(202);
    await projected(cy);
    const report = await forget(cy.anonymous);
    expect(report).toMatchObject({ complete: true });
    expect(await traces(cy)).toEqual([]);
    const tail = await tailEverything();
    expect(tail).not.toContain(cy.email);
    expect(tail).not.toContain(cy.name);
  }, 600_000);

  it('keeps an email sent as a userId as its email id, and forgets the person by that email', async () => {
    const eve = person('eve');
    const byEmail = { ...eve, customer: eve.email };
    expect(await send(journey(byEmail))).toBe(202);
    const kept = emailAnonymousId(secret, eve.email);
    await projected({ ...byEmail, customer: kept });
    // Topics are keyed by ids: the address is not one of them.
    const keys = (await tailEverything())
      .split('\n')
      .filter((l) => l.trim().startsWith('{'))
      .map((l) => (JSON.parse(l) as { key: string | null }).key ?? '');
    expect(keys).toContain(kept);
    expect(keys.filter((k) => k.includes(eve.email))).toEqual([]);
    const report = await forget(eve.email);
    expect(report).toMatchObject({ complete: true });
    expect(await traces({ ...eve, customer: kept })).toEqual([]);
    const tail = await tailEverything();
    expect(tail).not.toContain(eve.email);
    expect(tail).not.toContain(eve.name);
  }, 600_000);

  it('forgets a person while the processor is killed and restarted', async () => {
    const dee = person('dee');
    expect(await send(journey(dee))).toBe(202);
    await projected(dee);
    // Other people keep coming while the forget runs.
    let traffic = true;
    const others = (async () => {
      for (let i = 0; traffic; i++) {
        await send(journey(person(`other${i}`)));
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    await new Promise((r) => setTimeout(r, 1000));
    // Killed mid-work, so the marker can only be applied by a processor that restores the person from
    // the changelog; the forget waits for it.
    processor.kill('SIGKILL');
    const forgetting = forget(dee.customer);
    await new Promise((r) => setTimeout(r, 3000));
    processor = startProcessor();
    const report = await forgetting;
    traffic = false;
    await others;
    expect(report).toMatchObject({ complete: true });
    expect(await traces(dee)).toEqual([]);
    const tail = await tailEverything();
    expect(tail).not.toContain(dee.email);
    expect(tail).not.toContain(dee.name);
    // The restarted processor goes on with everyone else.
    await projected(person('other0'));
  }, 600_000);
});
