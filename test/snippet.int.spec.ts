/**
 * The browser snippet as a site runs it: real headless Chromium (Debian's, driven by playwright-core) loads
 * a page that embeds the loader, from a static server on 127.0.0.1; the snippet sends to `ciclo collect`
 * (through a TCP proxy the test can cut) against the real Kafka and registry. Page views (with UTM and
 * referrer), identify and track arrive as typed touchpoints, their URLs minimized in the browser (only utm_*
 * and the snippet's allowlist, the referrer's origin); calls made while the collector is unreachable are kept
 * (across a reload, in localStorage) and each arrives exactly once when it is back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { connectConsumer, type MessageConsumer } from '../infra/kafka/consumer';
import { loaderSnippet } from '../producers/snippet/loader';
import { SNIPPET_FILE } from '../producers/snippet/files';
import type { PrivacyConnection } from '../infra/privacy/connect';
import { deadLetterTopicFor, LINK_COPY_HEADER, privacyTopicsFor, TOPICS } from '../schemas/topics';
import { connectTopicAdmin } from '../infra/kafka/admin';
import type { Touchpoint } from '../schemas/touchpoint';
import { ensureChromium } from './support/chromium';
import { openedTouchpoints } from './support/privacy';
import { CICLO_BIN } from './support/cli';
import { eventually, testConfig, uniqueName } from './support/services';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';
import { freePort } from '../infra/stack/processes';

const config = testConfig();
const { endpoints } = config;
const TOUCHPOINTS = uniqueName('it-collect-touchpoints');
/** Where the collector keeps the keys it seals personal fields with, and the suppression list. */
const PRIVACY = privacyTopicsFor(TOUCHPOINTS);

/** The site: a landing page linking to a shop page, both embedding the loader; the script as from a CDN. */
function startSite(loader: string, run: string): Promise<{ server: http.Server; base: string }> {
  const html = (title: string, body: string): string =>
    `<!doctype html><html><head><title>${title}</title>${loader}</head><body>${body}</body></html>`;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://site');
    if (url.pathname === '/ciclo.min.js') {
      res.writeHead(200, { 'content-type': 'application/javascript' });
      res.end(fs.readFileSync(SNIPPET_FILE));
    } else if (url.pathname === '/landing') {
      const shop = `/shop?run=${run}&ref=partner&utm_source=newsletter&utm_medium=email&utm_campaign=spring-sale`;
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(html('Welcome', `<a id="go" href="${shop}">shop</a>`));
    } else if (url.pathname === '/shop') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(html('Vinyl shop', '<h1>shop</h1>'));
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, base: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}` }),
    ),
  );
}

describe('browser snippet', () => {
  const run = uniqueName('snip');
  const writeKey = uniqueName('wk_pub');
  const userId = `${run}-u`;
  const anonymousId = `${run}-anon`;
  /** Every touchpoint of this run read from Kafka, duplicates included. */
  const seen: Touchpoint[] = [];
  let collector: ChildProcess;
  let collectorBase: string;
  /** What the snippet logged as warnings and errors, argument by argument. */
  const consoleProblems: unknown[][] = [];
  let proxy: TcpProxy;
  let site: { server: http.Server; base: string };
  let consumer: MessageConsumer;
  /** The key ring the collector seals personal fields with (the installation's secret, as `ciclo collect`'s). */
  let privacy: PrivacyConnection;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    const executablePath = await ensureChromium();
    // A topic of the test's own, so nothing it sends reaches the pipeline reading ciclo.touchpoints.
    const admin = await connectTopicAdmin(endpoints.kafka.brokers);
    // The collector dead-letters the calls it cannot map next to its topic.
    await admin.ensureTopics([
      { name: TOUCHPOINTS, partitions: 3 },
      { name: deadLetterTopicFor(TOUCHPOINTS), partitions: 1 },
      // Before anyone reads them: a reader subscribed to a topic that did not exist yet sees no key.
      { ...TOPICS.personKeys, name: PRIVACY.personKeys },
      { ...TOPICS.forgotten, name: PRIVACY.forgotten },
    ]);
    await admin.close();
    const port = await freePort();
    collectorBase = `http://127.0.0.1:${port}`;
    collector = spawn(
      process.execPath,
      [CICLO_BIN, 'collect', '--port', String(port), '--topic', TOUCHPOINTS],
      {
        env: {
          ...process.env,
          CICLO_WRITE_KEYS: `web:${writeKey}`,
          CICLO_SNIPPET_SOURCES: 'web',
          // The collector would keep `run`: that it is not on Kafka shows the snippet dropped it.
          CICLO_URL_QUERY_ALLOWLIST: 'ref,run',
          CICLO_LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    // Kept for diagnosis, in the OS temp folder.
    collector.stderr!.pipe(fs.createWriteStream(path.join(os.tmpdir(), `${run}-collector.log`)));
    await eventually(
      async () => ((await fetch(`${collectorBase}/health`)).ok ? true : undefined),
      60_000,
      'collector health',
    );
    proxy = await startTcpProxy('127.0.0.1', port);
    const loader = loaderSnippet({
      host: `http://127.0.0.1:${proxy.port}`,
      writeKey,
      // The script from the site's own origin (a CDN), so a page still loads it while the collector is down.
      src: '/ciclo.min.js',
      options: { flushInterval: 100, maxRetryDelay: 1000, queryAllowlist: ['ref'] },
    });
    site = await startSite(loader, run);

    // Personal fields and dead letters are sealed (infra/privacy/): read them as the projector does.
    const opened = await openedTouchpoints(config, TOUCHPOINTS, uniqueName('it-snippet'));
    privacy = opened.privacy;
    const serde = opened.serde;
    consumer = await connectConsumer({
      brokers: endpoints.kafka.brokers,
      groupId: uniqueName('it-snippet'),
      topics: [TOUCHPOINTS],
      fromBeginning: true,
      commitOffsets: false,
    });
    await consumer.run(async (batch) => {
      for (const m of batch) {
        if (m.key !== userId && m.key !== anonymousId) continue;
        // An identify call's copies (on the other partitions) are not facts of their own.
        if (m.headers[LINK_COPY_HEADER] !== undefined) continue;
        const decoded = await serde.decode(m.value!);
        if (decoded.ok) seen.push(decoded.value);
      }
    });

    browser = await chromium.launch({ executablePath });
    context = await browser.newContext();
    // A returning visitor whose anonymous id the test knows, so it can pick its events out of the topic.
    await context.addInitScript(
      `try { if (!localStorage.getItem('ciclo.anonymousId')) localStorage.setItem('ciclo.anonymousId', ${JSON.stringify(anonymousId)}) } catch (e) {}`,
    );
    page = await context.newPage();
    page.on('console', (msg) => {
      if (msg.type() !== 'error' && msg.type() !== 'warning') return;
      void Promise.all(msg.args().map((a) => a.jsonValue() as Promise<unknown>)).then(
        (args) => consoleProblems.push(args),
        () => consoleProblems.push([msg.text()]),
      );
    });
  });

  afterAll(async () => {
    await browser?.close();
    await consumer?.stop();
    await privacy?.close();
    await proxy?.close();
    await new Promise((r) => (site ? site.server.close(r) : r(undefined)));
    if (collector && collector.exitCode === null) {
      const exited = new Promise((r) => collector.once('exit', r));
      collector.kill('SIGTERM');
      await exited;
    }
    const admin = await connectTopicAdmin(endpoints.kafka.brokers);
    await admin.deleteTopics([
      TOUCHPOINTS,
      deadLetterTopicFor(TOUCHPOINTS),
      PRIVACY.personKeys,
      PRIVACY.forgotten,
    ]);
    await admin.close();
  });

  const inPage = <T>(expression: string): Promise<T> => page.evaluate<T>(expression);
  const queuedCalls = (): Promise<{ key: string; count: number }[]> =>
    inPage(`Object.keys(localStorage).filter((k) => k.startsWith('ciclo.queue.'))
      .map((key) => ({ key, count: JSON.parse(localStorage.getItem(key)).items.length }))`);
  const arrived = (predicate: (tp: Touchpoint) => boolean, what: string, count = 1): Promise<Touchpoint[]> =>
    eventually(
      () => {
        const found = seen.filter(predicate);
        return Promise.resolve(found.length >= count ? found : undefined);
      },
      60_000,
      what,
    );

  it('sends page views with referrer and UTM (URLs minimized), identify and track, as typed touchpoints', async () => {
    await page.goto(`${site.base}/landing?run=${run}`);
    await Promise.all([page.waitForURL(/\/shop\?/), page.click('#go')]);
    await inPage(
      `ciclo.identify(${JSON.stringify(userId)}, { email: 'ana@example.com', plan: 'pro', tier: 3 })`,
    );
    await inPage(`ciclo.track('Video Played', { video: 'intro', seconds: 42 })`);

    const [view] = await arrived(
      (tp) => tp.type === 'PageViewed' && tp.payload.path === '/shop',
      'the shop page view on Kafka',
    );
    expect(view).toMatchObject({
      anonymousId,
      source: { kind: 'snippet', name: 'web' },
      payload: { path: '/shop', title: 'Vinyl shop' },
      context: {
        pageUrl: `${site.base}/shop?ref=partner&utm_source=newsletter&utm_medium=email&utm_campaign=spring-sale`,
        referrer: `${site.base}/`,
        utmSource: 'newsletter',
        utmMedium: 'email',
        utmCampaign: 'spring-sale',
      },
    });
    // The snippet's messageId, scoped by the write key's source (schemas/event-id.ts).
    expect(view!.eventId).toMatch(/^seg:web:ciclo-[0-9a-f-]{36}$/);
    // The anonymous id survives localStorage being cleared: it is in a first-party cookie too.
    expect(await inPage<string>('document.cookie')).toContain(`ciclo.anonymousId=${anonymousId}`);

    const [identified] = await arrived((tp) => tp.type === 'Identified', 'the identify on Kafka');
    expect(identified).toMatchObject({
      customerId: userId,
      anonymousId,
      payload: { email: 'ana@example.com', plan: 'pro', traits: { tier: '3' } },
    });
    const [played] = await arrived(
      (tp) => tp.type === 'Tracked' && tp.payload.event === 'Video Played',
      'the track on Kafka',
    );
    expect(played).toMatchObject({
      customerId: userId,
      anonymousId,
      payload: { event: 'Video Played', properties: { video: 'intro', seconds: '42' } },
      context: { utmCampaign: 'spring-sale' },
    });
    expect(played!.occurredAt).toBeLessThanOrEqual(played!.receivedAt);
  });

  it('drops only the calls the collector refuses, saying why on the console, and delivers the others', async () => {
    // A purchase is a server key's to send (forbidden for the browser's); an event name over 256
    // characters is invalid (dead-lettered). Neither takes the others with it.
    const longName = 'x'.repeat(300);
    await inPage(`ciclo.track('Coupon Applied', { code: 'SPRING' });
      ciclo.track('Order Completed', { order_id: ${JSON.stringify(`${run}-o1`)}, total: 12.99, currency: 'EUR' });
      ciclo.track(${JSON.stringify(longName)});
      ciclo.track('Cart Viewed')`);
    await arrived(
      (tp) => tp.type === 'Tracked' && tp.payload.event === 'Cart Viewed',
      'the valid calls on Kafka',
    );
    expect(seen.some((tp) => tp.type === 'Tracked' && tp.payload.event === 'Coupon Applied')).toBe(true);
    const rejections = await eventually(
      () => {
        const found = consoleProblems.filter((args) => String(args[1]).includes('rejected'));
        return Promise.resolve(found.length >= 2 ? found : undefined);
      },
      10_000,
      'the rejections on the console',
    );
    expect(rejections.map(([, message]) => message)).toEqual([
      'the collector rejected a call; it was dropped',
      'the collector rejected a call; it was dropped',
    ]);
    expect(rejections.map(([, , detail]) => detail)).toEqual([
      expect.objectContaining({
        type: 'track',
        event: 'Order Completed',
        reasons: [
          'forbidden',
          expect.stringMatching(/^batch\.1\.event: a browser write key \(source "web"\)/),
        ],
      }),
      expect.objectContaining({
        type: 'track',
        event: longName,
        reasons: [
          'dead-lettered',
          expect.stringMatching(/^batch\.2\.event: event must be at most 256 characters/),
        ],
      }),
    ]);
    expect(await inPage<boolean>('ciclo.flush()')).toBe(true);
    expect(seen.some((tp) => tp.type === 'PurchaseCompleted')).toBe(false);
  });

  it('serves the built snippet from the collector, cacheable and revalidated by ETag', async () => {
    const res = await fetch(`${collectorBase}/snippet/ciclo.min.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/javascript/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    expect(Buffer.from(await res.arrayBuffer()).equals(fs.readFileSync(SNIPPET_FILE))).toBe(true);
    const again = await fetch(`${collectorBase}/snippet/ciclo.min.js`, {
      headers: { 'if-none-match': res.headers.get('etag')! },
    });
    expect(again.status).toBe(304);
  });

  it('keeps calls while the collector is unreachable, across a reload, and delivers each exactly once', async () => {
    expect(await inPage<boolean>('ciclo.flush()')).toBe(true);
    await proxy.cut();

    for (const n of [1, 2, 3]) await inPage(`ciclo.track('Offline Clicked', { n: ${n} })`);
    // The snippet tries, fails and backs off; the calls stay in this page's stored queue.
    await eventually(
      async () => ((await queuedCalls()).some((q) => q.count === 3) ? true : undefined),
      10_000,
      'three calls stored',
    );
    await page.reload();
    for (const n of [4, 5]) await inPage(`ciclo.track('Offline Clicked', { n: ${n} })`);
    // The reloaded page took over the old page's queue: one queue, with the old calls, its page view, 4 and 5.
    await eventually(
      async () => {
        const queues = await queuedCalls();
        return queues.length === 1 && queues[0]!.count === 6 ? true : undefined;
      },
      10_000,
      "the old page's queue taken over",
    );

    await proxy.restore();
    await arrived(
      (tp) => tp.type === 'Tracked' && tp.payload.event === 'Offline Clicked',
      'the five offline calls on Kafka',
      5,
    );
    await eventually(
      async () => ((await queuedCalls()).length === 0 ? true : undefined),
      30_000,
      'the queue emptied',
    );
    // Everything the page sent was answered 202; a last call on the same key (same partition, so after
    // all the others) marks the end of what can arrive.
    await inPage(`ciclo.track('Test Finished')`);
    await arrived(
      (tp) => tp.type === 'Tracked' && tp.payload.event === 'Test Finished',
      'the last call on Kafka',
    );

    const offline = seen.filter((tp) => tp.type === 'Tracked' && tp.payload.event === 'Offline Clicked');
    expect(offline.map((tp) => (tp.type === 'Tracked' ? tp.payload.properties?.n : '')).sort()).toEqual([
      '1',
      '2',
      '3',
      '4',
      '5',
    ]);
    expect(seen.filter((tp) => tp.type === 'PageViewed' && tp.payload.path === '/shop')).toHaveLength(2);
    // Exactly once in Kafka, except what a page had pending when it went away while the collector was up:
    // that is beaconed and also kept, so the next page sends it again under the same eventId (at-least-once;
    // downstream deduplicates by eventId). Here that can only be the landing page's view (the test clicks
    // on at once); nothing sent while the collector was down is ever copied.
    const copies = new Map<string, Touchpoint[]>();
    for (const tp of seen) copies.set(tp.eventId, [...(copies.get(tp.eventId) ?? []), tp]);
    const duplicated = [...copies.values()].filter((c) => c.length > 1).map((c) => c[0]!);
    expect(duplicated.filter((tp) => !(tp.type === 'PageViewed' && tp.payload.path === '/landing'))).toEqual(
      [],
    );
  });
});
