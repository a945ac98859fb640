import { Analytics, ANONYMOUS_ID_KEY, type LoadOptions } from './analytics';
import { pageInfo, type Call, type PageInfo } from './calls';
import { memoryStore, type KeyValueStore } from './ports';
import { QUEUE_KEY_PREFIX } from './queue';
import type { CollectorAnswer } from './settle';

interface Post {
  readonly url: string;
  readonly keepalive: boolean;
  readonly body: { batch: Call[]; writeKey: string; sentAt: string };
}

const SHOP_PAGE = pageInfo(
  { href: 'https://shop.example.com/?utm_source=ads', pathname: '/', search: '?utm_source=ads' },
  '',
  'Shop',
);

/** A page (or several, sharing one localStorage) with a scripted collector and a clock the test moves. */
function browser(page: PageInfo = SHOP_PAGE) {
  let now = Date.parse('2026-03-14T09:30:00Z');
  let nextTimer = 0;
  let timers: { id: number; at: number; fn: () => void }[] = [];
  const posts: Post[] = [];
  const beacons: Post[] = [];
  const reports: { level: string; message: string; detail?: unknown }[] = [];
  /** What the collector answers next, in order; 202 once the script runs out. */
  const answers: (CollectorAnswer | undefined)[] = [];
  const state = { beaconAccepted: true };
  const localStorage = memoryStore();
  let ids = 0;

  const open = (pageId: string, stores: { queue?: KeyValueStore } = {}): Analytics =>
    new Analytics({
      queueStore: stores.queue ?? localStorage,
      identityStore: localStorage,
      queueKey: QUEUE_KEY_PREFIX + pageId,
      transport: {
        post: (url, body, keepalive) => {
          posts.push({ url, keepalive, body: JSON.parse(body) as Post['body'] });
          return Promise.resolve(
            answers.length > 0 ? answers.shift() : { status: 202, retryAfter: null, body: {} },
          );
        },
        beacon: (url, body) => {
          if (state.beaconAccepted)
            beacons.push({ url, keepalive: true, body: JSON.parse(body) as Post['body'] });
          return state.beaconAccepted;
        },
      },
      timers: {
        set: (fn, ms) => {
          const id = ++nextTimer;
          timers.push({ id, at: now + ms, fn });
          return id;
        },
        clear: (id) => {
          timers = timers.filter((t) => t.id !== id);
        },
      },
      clock: () => now,
      random: () => 0.5,
      uuid: () => `00000000-0000-4000-8000-${String(++ids).padStart(12, '0')}`,
      report: (level, message, detail) => reports.push({ level, message, detail }),
      page: () => page,
    });

  /** Runs timers due within `ms`, letting each request settle, then moves the clock to the end. */
  const advance = async (ms: number): Promise<void> => {
    const end = now + ms;
    for (;;) {
      await new Promise((r) => setImmediate(r));
      const due = timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      timers = timers.filter((t) => t !== due);
      now = due.at;
      due.fn();
    }
    now = end;
    await new Promise((r) => setImmediate(r));
  };
  const sent = (): string[][] => posts.map((p) => p.body.batch.map((c) => c.event ?? c.type));
  const stored = (pageId: string) =>
    JSON.parse(localStorage.get(QUEUE_KEY_PREFIX + pageId) ?? 'null') as {
      ack: number;
      items: Call[];
    } | null;
  return { open, advance, posts, beacons, reports, answers, state, localStorage, sent, stored };
}

const options: LoadOptions = { writeKey: 'wk_pub', host: 'https://collect.example.com/' };
const answer = (status: number, body: unknown = {}, retryAfter: string | null = null): CollectorAnswer => ({
  status,
  body,
  retryAfter,
});

describe('what of the page the snippet sends', () => {
  const page = pageInfo(
    {
      href: 'https://ana:pw@shop.example.com/account?email=ana%40example.com&ref=partner&utm_source=ads#orders',
      pathname: '/account',
      search: '?email=ana%40example.com&ref=partner&utm_source=ads',
    },
    'https://news.example/2026/03/article?reader=ana',
    'Account',
  );

  it('keeps utm_* and the allowlist of load in URLs, and the origin of the referrer, before storing a call', async () => {
    const b = browser(page);
    const ciclo = b.open('p1');
    ciclo.load({ ...options, queryAllowlist: ['ref'] });
    ciclo.page({ url: 'https://shop.example.com/account?token=t', search: '?token=t&ref=x' });
    ciclo.track('Viewed');
    const stored = JSON.stringify(b.stored('p1'));
    for (const personal of ['ana%40', 'reader', 'orders', 'token', 'pw@'])
      expect(stored).not.toContain(personal);
    await b.advance(1000);
    const [viewed, tracked] = b.posts[0]!.body.batch;
    const kept = {
      url: 'https://shop.example.com/account?ref=partner&utm_source=ads',
      path: '/account',
      search: '?ref=partner&utm_source=ads',
      referrer: 'https://news.example/',
      title: 'Account',
    };
    expect(viewed!.context.page).toEqual(kept);
    expect(viewed!.context.campaign).toEqual({ source: 'ads' });
    // The site's own page properties keep as little.
    expect(viewed!.properties).toEqual({
      ...kept,
      url: 'https://shop.example.com/account',
      search: '?ref=x',
    });
    expect(tracked!.context.page).toEqual(kept);
  });

  it('keeps only utm_* without an allowlist, also for calls made before load', async () => {
    const b = browser(page);
    const ciclo = b.open('p1');
    ciclo.page();
    ciclo.load({ ...options, queryAllowlist: ['ref'] });
    await b.advance(1000);
    expect(b.posts[0]!.body.batch[0]!.context.page).toMatchObject({
      url: 'https://shop.example.com/account?utm_source=ads',
      search: '?utm_source=ads',
    });
  });
});

describe('the snippet core', () => {
  it('sends calls made before load once loaded, then batches after flushInterval or at flushAt', async () => {
    const b = browser();
    const ciclo = b.open('p1');
    ciclo.page();
    ciclo.track('Early');
    await b.advance(5000);
    expect(b.posts).toHaveLength(0);
    expect(b.stored('p1')?.items).toHaveLength(2);

    ciclo.load({ ...options, flushAt: 3 });
    await b.advance(0);
    expect(b.sent()).toEqual([['page', 'Early']]);
    expect(b.posts[0]).toMatchObject({ url: 'https://collect.example.com/v1/batch', keepalive: true });
    expect(b.posts[0]!.body.writeKey).toBe('wk_pub');
    expect(b.stored('p1')).toBeNull();

    ciclo.track('A');
    await b.advance(999);
    expect(b.posts).toHaveLength(1);
    await b.advance(1);
    expect(b.sent()[1]).toEqual(['A']);

    for (const e of ['B', 'C', 'D']) ciclo.track(e);
    await b.advance(0);
    expect(b.sent()[2]).toEqual(['B', 'C', 'D']);
  });

  it('retries with backoff and jitter, honouring Retry-After, always with the same messageIds', async () => {
    const b = browser();
    const ciclo = b.open('p1');
    ciclo.load(options);
    b.answers.push(undefined, answer(503, { code: 'UNAVAILABLE' }, '5'));
    ciclo.track('Clicked');
    await b.advance(1000);
    expect(b.posts).toHaveLength(1); // no answer: retry in 1000/2 + 0.5 * 1000/2 = 750 ms
    await b.advance(749);
    expect(b.posts).toHaveLength(1);
    await b.advance(1);
    expect(b.posts).toHaveLength(2); // 503, Retry-After 5 s: longer than the 1500 ms backoff
    ciclo.track('Meanwhile');
    await b.advance(4999);
    expect(b.posts).toHaveLength(2);
    await b.advance(1);
    expect(b.sent()).toEqual([['Clicked'], ['Clicked'], ['Clicked', 'Meanwhile']]);
    const first = b.posts.map((p) => p.body.batch[0]!.messageId);
    expect(new Set(first).size).toBe(1);
    expect(b.stored('p1')).toBeNull();
  });

  it('on 400 drops only the calls the collector names, reporting its reasons, and sends the rest at once', async () => {
    const b = browser();
    const ciclo = b.open('p1');
    ciclo.load(options);
    b.answers.push(
      answer(400, {
        code: 'INVALID_REQUEST',
        problems: [{ path: 'batch.1.properties.total', message: 'bad' }],
      }),
    );
    for (const e of ['Ok 1', 'Order Completed', 'Ok 2']) ciclo.track(e);
    await b.advance(1000);
    expect(b.sent()).toEqual([
      ['Ok 1', 'Order Completed', 'Ok 2'],
      ['Ok 1', 'Ok 2'],
    ]);
    expect(b.reports).toHaveLength(1);
    expect(b.reports[0]).toMatchObject({
      level: 'error',
      detail: { event: 'Order Completed', reasons: ['batch.1.properties.total: bad'] },
    });
  });

  it('splits a batch the collector finds too large, and drops a single call that still is', async () => {
    const b = browser();
    const ciclo = b.open('p1');
    ciclo.load(options);
    b.answers.push(answer(413), answer(202), answer(413), answer(413));
    for (const e of ['A', 'B', 'C', 'D']) ciclo.track(e);
    await b.advance(1000);
    expect(b.sent()).toEqual([['A', 'B', 'C', 'D'], ['A', 'B'], ['C', 'D'], ['C'], ['D']]);
    expect(b.reports.map((r) => r.message)).toEqual([expect.stringMatching(/too large/)]);
  });

  it('keeps calls refused for configuration (401) and retries them at the longest backoff, saying so once', async () => {
    const b = browser();
    const ciclo = b.open('p1');
    ciclo.load({ ...options, maxRetryDelay: 10_000 });
    b.answers.push(answer(401, { code: 'UNAUTHORIZED' }), answer(401, { code: 'UNAUTHORIZED' }));
    ciclo.track('A');
    await b.advance(1000);
    await b.advance(9999);
    expect(b.posts).toHaveLength(1);
    await b.advance(1);
    await b.advance(10_000);
    expect(b.sent()).toEqual([['A'], ['A'], ['A']]);
    expect(b.reports).toHaveLength(1);
    expect(b.reports[0]!.message).toMatch(/401 UNAUTHORIZED/);
  });

  it('when the page goes away, beacons what is pending and keeps it for the next page, which takes it over', async () => {
    const b = browser();
    const first = b.open('p1');
    first.load(options);
    first.track('Link Clicked');
    first.lifecycle.pageHidden();
    expect(b.beacons.map((p) => p.body.batch.map((c) => c.event))).toEqual([['Link Clicked']]);
    expect(b.beacons[0]!.body.writeKey).toBe('wk_pub');
    expect(b.stored('p1')).toMatchObject({ ack: 0, items: [{ event: 'Link Clicked' }] });

    const second = b.open('p2');
    second.load(options);
    second.page();
    await b.advance(0);
    expect(b.sent()).toEqual([['Link Clicked', 'page']]);
    expect(b.posts[0]!.body.batch[0]!.messageId).toBe(b.beacons[0]!.body.batch[0]!.messageId);
    expect(b.localStorage.keys().filter((k) => k.startsWith(QUEUE_KEY_PREFIX))).toEqual([]);
  });

  it('does not beacon while the collector is known to be down, and never takes a live page’s queue', async () => {
    const b = browser();
    const first = b.open('p1');
    first.load(options);
    b.answers.push(undefined);
    first.track('Offline');
    await b.advance(1000);
    expect(b.posts).toHaveLength(1);
    first.lifecycle.hidden();
    await b.advance(0);
    expect(b.posts).toHaveLength(1);

    const other = b.open('p2'); // another tab, while the first is alive
    other.load(options);
    await b.advance(0);
    expect(b.sent()).toEqual([['Offline']]);

    first.lifecycle.pageHidden();
    expect(b.beacons).toHaveLength(0);
    const third = b.open('p3');
    third.load(options);
    await b.advance(0);
    expect(b.sent()).toEqual([['Offline'], ['Offline']]);
  });

  it('a page back from the back/forward cache does not send calls another page took over', async () => {
    const b = browser();
    const first = b.open('p1');
    first.load(options);
    first.track('A');
    b.state.beaconAccepted = false;
    first.lifecycle.pageHidden();
    const second = b.open('p2');
    second.load(options);
    await b.advance(0);
    first.lifecycle.pageShown();
    expect(first.lifecycle.pending).toEqual([]);
    await b.advance(5000);
    expect(b.sent()).toEqual([['A']]);
  });

  it('a page back from the back/forward cache with its queue still its own sends it', async () => {
    const b = browser();
    const ciclo = b.open('p1');
    ciclo.load(options);
    ciclo.track('A');
    b.state.beaconAccepted = false;
    ciclo.lifecycle.pageHidden();
    await b.advance(5000);
    expect(b.posts).toHaveLength(0);
    ciclo.lifecycle.pageShown();
    await b.advance(0);
    expect(b.sent()).toEqual([['A']]);
  });

  it('a page whose queue looked abandoned and was taken over sends none of those calls, only later ones', async () => {
    const b = browser();
    const sleepy = b.open('p1'); // its timers stopped (a frozen tab): it does not touch its queue
    sleepy.track('Old');
    await b.advance(16 * 60_000);
    const fresh = b.open('p2');
    fresh.load(options);
    await b.advance(0);
    expect(b.sent()).toEqual([['Old']]);

    sleepy.load(options);
    sleepy.track('New');
    await b.advance(5000);
    expect(b.sent()).toEqual([['Old'], ['New']]);
  });

  it('keeps one anonymous id per browser and sends the identified user with later calls', async () => {
    const b = browser();
    const ciclo = b.open('p1');
    ciclo.load(options);
    ciclo.track('Before');
    ciclo.identify('cus_1', { email: 'ana@example.com' });
    ciclo.track('After');
    ciclo.alias('cus_2');
    await b.advance(1000);
    const [before, identify, after, alias] = b.posts[0]!.body.batch;
    const anonymousId = b.localStorage.get(ANONYMOUS_ID_KEY);
    expect(before).toMatchObject({ anonymousId, context: { campaign: { source: 'ads' } } });
    expect(before).not.toHaveProperty('userId');
    expect(identify).toMatchObject({
      type: 'identify',
      userId: 'cus_1',
      traits: { email: 'ana@example.com' },
    });
    expect(after).toMatchObject({ userId: 'cus_1', anonymousId });
    // By default the browser's own anonymous id: the one alias a browser key may send.
    expect(alias).toMatchObject({ type: 'alias', userId: 'cus_2', previousId: anonymousId, anonymousId });
    expect(b.open('p2').user()).toEqual({ userId: 'cus_1', anonymousId });
    ciclo.reset();
    expect(ciclo.user().userId).toBeUndefined();
    expect(ciclo.user().anonymousId).not.toBe(anonymousId);
  });

  it('flush sends now regardless of the backoff and says whether anything is left', async () => {
    const b = browser();
    const ciclo = b.open('p1');
    ciclo.load(options);
    b.answers.push(undefined, undefined);
    ciclo.track('A');
    expect(await ciclo.flush()).toBe(false);
    expect(await ciclo.flush()).toBe(false);
    expect(await ciclo.flush()).toBe(true);
    expect(b.posts).toHaveLength(3);
  });

  it('reports a load without writeKey or host and sends nothing; refuses calls it cannot make', async () => {
    const b = browser();
    const ciclo = b.open('p1');
    ciclo.load({ host: 'https://collect.example.com' } as LoadOptions);
    ciclo.load({ writeKey: 'wk' });
    ciclo.track('');
    ciclo.alias(undefined);
    ciclo.track('Kept');
    await b.advance(5000);
    expect(b.posts).toHaveLength(0);
    expect(b.reports.map((r) => r.message)).toEqual([
      'load needs { writeKey }',
      expect.stringMatching(/load needs \{ host \}/),
      'track needs an event name',
      'alias needs a userId',
    ]);
    expect(b.stored('p1')?.items.map((c) => c.event)).toEqual(['Kept']);
  });
});
