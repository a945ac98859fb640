import { partitionFor } from '../../schemas/partitioner';
/**
 * The import as one piece, against a fake producer that records what it is sent and a JSON serde: files in
 * temporary folders, the sort forced onto disk by a tiny budget. An adapter-level test, in milliseconds.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MessageProducer } from '../../infra/kafka/producer';
import type { OutgoingMessage } from '../../infra/kafka/types';
import {
  LANE_CONTROL_KEY,
  LANE_HEADER,
  isLaneControl,
  laneControlHeaders,
  laneControlOf,
} from '../../schemas/lanes';
import { LINK_COPY_HEADER } from '../../schemas/topics';
import type { Touchpoint } from '../../schemas/touchpoint';
import { cdnowTouchpoints } from './cdnow';
import { csvTouchpoints, parseCsvMapping, type CsvMapping } from './csv';
import { importFile, type ImportOptions, type LaneEvent } from './import';
import { byEventTime } from './rows';
import { seededRandom } from '../simulate/simulate';

const RECEIVED = Date.parse('2026-12-01T00:00:00Z');
const DAY = 24 * 3600 * 1000;
const LANE = 'import-20261201T000000Z-test01';
const TOPIC = 'spec.touchpoints';

const rng = seededRandom;
function shuffled<T>(list: readonly T[], seed: number): T[] {
  const random = rng(seed);
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ciclo-import-spec-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A producer that records each send; `failOn` makes the send with that index (0-based) fail. */
function recordingProducer(failOn?: (index: number, messages: readonly OutgoingMessage[]) => boolean): {
  producer: MessageProducer;
  sends: { topic: string; messages: readonly OutgoingMessage[] }[];
} {
  const sends: { topic: string; messages: readonly OutgoingMessage[] }[] = [];
  let index = 0;
  return {
    sends,
    producer: {
      send(topic, messages) {
        const i = index++;
        if (failOn?.(i, messages)) return Promise.reject(new Error(`broker refused send ${i}`));
        sends.push({ topic, messages });
        return Promise.resolve();
      },
      close: () => Promise.resolve(),
    },
  };
}

const jsonSerde: ImportOptions['serde'] = {
  encodeAll: (values) => Promise.resolve(values.map((v) => Buffer.from(JSON.stringify(v)))),
};

/** The touchpoints a run sent, in order (facts only, not the link copies). */
const touchpointsSent = (sends: { messages: readonly OutgoingMessage[] }[]): Touchpoint[] =>
  sends
    .flatMap((s) => s.messages)
    .filter((m) => !isLaneControl(m.headers ?? {}) && m.headers?.[LINK_COPY_HEADER] === undefined)
    .map((m) => JSON.parse(m.value!.toString('utf8')) as Touchpoint);

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

/** A folder for the sort's runs, so the test can see that they are gone. */
function sortDir(): string {
  const sort = path.join(dir, 'sort');
  fs.mkdirSync(sort, { recursive: true });
  return sort;
}

async function run(options: Partial<ImportOptions> & Pick<ImportOptions, 'format' | 'file'>): Promise<{
  report: Awaited<ReturnType<typeof importFile>>;
  sends: { topic: string; messages: readonly OutgoingMessage[] }[];
  lanes: LaneEvent[];
}> {
  const { producer, sends } = recordingProducer();
  const lanes: LaneEvent[] = [];
  const report = await importFile({
    producer,
    serde: jsonSerde,
    topic: TOPIC,
    receivedAt: RECEIVED,
    lane: LANE,
    partitions: 3,
    batchSize: 7,
    tmpDir: sortDir(),
    onLane: (e) => lanes.push(e),
    ...options,
  });
  return { report, sends, lanes };
}

const orders = parseCsvMapping(
  {
    source: 'shop',
    type: 'PurchaseCompleted',
    eventId: { columns: ['order'] },
    customerId: 'customer',
    occurredAt: { column: 'at', format: 'epoch-ms' },
    payload: { orderId: { column: 'order' }, amountMinor: { column: 'total', as: 'money' } },
  },
  'orders.json',
);

/** Orders of 40 customers, 6 each at random times of one year, as a shop exports them: by customer. */
function ordersByCustomer(seed: number): string[] {
  const random = rng(seed);
  const rows: string[] = [];
  for (let c = 0; c < 40; c++)
    for (let k = 0; k < 6; k++) {
      // Whole hours, so that some orders share a time and the event id decides.
      const at = RECEIVED - 400 * DAY + Math.floor(random() * 365 * 24) * 3600 * 1000;
      rows.push(`o-${c}-${k},c-${c},${at},${(random() * 100).toFixed(2)}`);
    }
  return rows;
}

describe('ciclo import: event-time order', () => {
  const header = 'order,customer,at,total';

  it.each([
    ['by customer', (rows: string[]) => rows],
    ['in random order', (rows: string[]) => shuffled(rows, 5)],
  ])('a CSV %s is produced sorted by (occurredAt, eventId), through runs on disk', async (_name, order) => {
    const rows = ordersByCustomer(1);
    const file = write('orders.csv', [header, ...order(rows)].join('\n'));
    const expected = csvTouchpoints([header, ...rows].join('\n'), orders, RECEIVED).touchpoints;
    expect(expected).toHaveLength(240);

    const { report, sends } = await run({
      format: 'csv',
      file,
      csvMapping: orders,
      sortBudget: { maxItems: 16 },
    });
    const sent = touchpointsSent(sends);
    expect(report).toEqual({ rowsRead: 240, eventsProduced: 240, eventsSuppressed: 0, rowsRejected: 0 });
    expect(sent).toEqual(expected);
    expect(sent).toEqual([...sent].sort(byEventTime));
    expect(fs.readdirSync(path.join(dir, 'sort'))).toEqual([]);
  });

  it('cdnow: a file in customer order and the same lines shuffled give the same ids in the same order', async () => {
    const random = rng(2);
    const lines: string[] = [' customer_id  date number_of_cds  dollar_value'];
    for (let c = 1; c <= 30; c++)
      for (let k = 0; k < 5; k++) {
        // Few days, so that a customer often buys twice on one day (k numbers those rows).
        const day = new Date(Date.UTC(1997, 0, 1 + Math.floor(random() * 6)));
        const yyyymmdd = day.toISOString().slice(0, 10).replace(/-/g, '');
        lines.push(
          ` ${String(c).padStart(5, '0')} ${yyyymmdd}  ${1 + Math.floor(random() * 3)}   ${(random() * 50).toFixed(2)}`,
        );
      }
    lines.push(' 00031 19970102  1   abc'); // rejected, and keeps its place in its day's numbering
    const expected = cdnowTouchpoints(lines.join('\n'), RECEIVED);
    expect(expected.rejected).toHaveLength(1);

    const byCustomer = await run({
      format: 'cdnow',
      file: write('cdnow.txt', lines.join('\n')),
      sortBudget: { maxItems: 9 },
    });
    const random2 = await run({
      format: 'cdnow',
      file: write('cdnow-shuffled.txt', [lines[0]!, ...shuffled(lines.slice(1), 9)].join('\n')),
      sortBudget: { maxItems: 9 },
    });
    expect(touchpointsSent(byCustomer.sends)).toEqual(expected.touchpoints);
    expect(touchpointsSent(random2.sends)).toEqual(expected.touchpoints);
    expect(byCustomer.report).toEqual({
      rowsRead: 151,
      eventsProduced: 150,
      eventsSuppressed: 0,
      rowsRejected: 1,
      rejectedFile: path.join(dir, 'cdnow.txt.rejected.ndjson'),
    });
    expect(new Set(expected.touchpoints.map((t) => t.eventId)).size).toBe(150);
  });

  it('CSV without an id column: identical rows at one time are numbered and ordered by their final ids', async () => {
    const mapping: CsvMapping = parseCsvMapping(
      {
        type: 'PageViewed',
        anonymousId: 'visitor',
        occurredAt: { column: 'ts', format: 'epoch-s' },
        payload: { path: { column: 'path' } },
      },
      'views.json',
    );
    const rows: string[] = [];
    for (let i = 0; i < 60; i++) rows.push(`v-${i % 4},${1772000000 + (i % 3)},/p${i % 5}`);
    const text = (list: string[]): string => ['visitor,ts,path', ...list].join('\n');
    const expected = csvTouchpoints(text(rows), mapping, RECEIVED).touchpoints;
    expect(new Set(expected.map((t) => t.eventId)).size).toBe(60);

    const sent = touchpointsSent(
      (
        await run({
          format: 'csv',
          file: write('views.csv', text(shuffled(rows, 3))),
          csvMapping: mapping,
          sortBudget: { maxItems: 4 }, // each time's 20 touchpoints are sorted through runs of their own too
        })
      ).sends,
    );
    expect(sent).toEqual(expected);
    expect(sent).toEqual([...sent].sort(byEventTime));
    expect(fs.readdirSync(path.join(dir, 'sort'))).toEqual([]);
  });
});

const tp = (eventId: string, at: number, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({
    eventId,
    type: 'PageViewed',
    anonymousId: 'a-1',
    occurredAt: at,
    receivedAt: at,
    source: { kind: 'import', name: 'spec' },
    payload: {},
    ...extra,
  });

describe('ciclo import: event time bounded', () => {
  it('rejects a row more than 5 minutes ahead of the import, naming occurredAt; 5 minutes is fine', async () => {
    const file = write(
      'tps.ndjson',
      [
        tp('e-1', RECEIVED - DAY),
        tp('e-2', RECEIVED + 5 * 60 * 1000),
        tp('e-3', RECEIVED + 5 * 60 * 1000 + 1),
        '',
        tp('e-4', RECEIVED + 3 * 365 * DAY),
      ].join('\n'),
    );
    const { report, sends } = await run({ format: 'ndjson', file });
    expect(touchpointsSent(sends).map((t) => t.eventId)).toEqual(['e-1', 'e-2']);
    expect(report).toMatchObject({ rowsRead: 4, eventsProduced: 2, rowsRejected: 2 });
    const rejected = fs
      .readFileSync(report.rejectedFile!, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; reason: string; text: string });
    expect(rejected.map((r) => r.line)).toEqual([3, 5]);
    for (const r of rejected) expect(r.reason).toMatch(/^occurredAt is in the future/);
    expect(rejected[1]!.text).toBe(tp('e-4', RECEIVED + 3 * 365 * DAY));
  });

  it('applies the same bound to CSV and cdnow rows', async () => {
    const csv = await run({
      format: 'csv',
      file: write(
        'o.csv',
        `order,customer,at,total\no-1,c-1,${RECEIVED + DAY},5.00\no-2,c-1,${RECEIVED},5.00`,
      ),
      csvMapping: orders,
    });
    expect(csv.report).toMatchObject({ rowsRead: 2, eventsProduced: 1, rowsRejected: 1 });
    const cdnow = await run({ format: 'cdnow', file: write('c.txt', ' 00001 20270101  1   11.77\n') });
    expect(cdnow.report).toMatchObject({ rowsRead: 1, eventsProduced: 0, rowsRejected: 1 });
    expect(fs.readFileSync(cdnow.report.rejectedFile!, 'utf8')).toMatch(/occurredAt is in the future/);
  });
});

describe('ciclo import: URLs keep less', () => {
  it("keeps a URL's utm_* and urlQueryAllowlist's parameters, a referrer's origin, in the touchpoints it sends", async () => {
    const file = write(
      'views.ndjson',
      tp('e-1', RECEIVED - DAY, {
        context: {
          pageUrl: 'https://shop.example/p?email=ana%40example.com&ref=news&utm_medium=email',
          referrer: 'https://mail.example/read?to=ana%40example.com',
        },
        payload: { path: '/p?email=ana%40example.com&ref=news' },
      }),
    );
    const { report, sends } = await run({ format: 'ndjson', file, urlQueryAllowlist: ['ref'] });
    expect(report).toMatchObject({ eventsProduced: 1, rowsRejected: 0 });
    const [sent] = touchpointsSent(sends);
    expect(sent).toMatchObject({
      eventId: 'e-1',
      context: {
        pageUrl: 'https://shop.example/p?ref=news&utm_medium=email',
        referrer: 'https://mail.example/',
      },
      payload: { path: '/p?ref=news' },
    });
    expect(JSON.stringify(sends)).not.toContain('ana%40example.com');
  });
});

describe('ciclo import: the rejected-rows file', () => {
  const rows = [tp('e-1', RECEIVED - DAY), tp('e-2', RECEIVED + 3 * 365 * DAY)].join('\n');

  it("is readable by its owner only, and replaces an earlier run's", async () => {
    const file = write('tps.ndjson', rows);
    fs.writeFileSync(`${file}.rejected.ndjson`, 'an earlier run\n', { mode: 0o644 });
    const { report } = await run({ format: 'ndjson', file });
    expect(report.rejectedFile).toBe(`${file}.rejected.ndjson`);
    expect(fs.statSync(report.rejectedFile!).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(report.rejectedFile!, 'utf8')).not.toContain('an earlier run');
  });

  it("is never written through a symbolic link: the import stops, the link's target is untouched", async () => {
    const file = write('tps.ndjson', rows);
    const target = write('somebody-elses.txt', 'precious\n');
    fs.symlinkSync(target, `${file}.rejected.ndjson`);
    await expect(run({ format: 'ndjson', file })).rejects.toMatchObject({ code: 'FILE_UNSAFE' });
    expect(fs.readFileSync(target, 'utf8')).toBe('precious\n');
  });
});

describe('ciclo import: its lane', () => {
  const linked = [
    tp('e-3', RECEIVED - 1 * DAY),
    tp('e-1', RECEIVED - 3 * DAY),
    // A link: the fact, and its copies on the other partitions.
    tp('e-2', RECEIVED - 2 * DAY, { type: 'Identified', customerId: 'c-1', anonymousId: 'a-1' }),
    ...Array.from({ length: 20 }, (_, i) => tp(`f-${i}`, RECEIVED - 30 * DAY + i * 1000)),
  ];

  it('opens on every partition before the first touchpoint, tags every record, closes after the last', async () => {
    const { sends, lanes } = await run({
      format: 'ndjson',
      file: write('tps.ndjson', linked.join('\n')),
      sortBudget: { maxItems: 5 },
    });
    const messages = sends.flatMap((s) => s.messages);
    expect(sends.every((s) => s.topic === TOPIC)).toBe(true);
    const startsAt = RECEIVED - 30 * DAY;

    const open = sends[0]!.messages;
    expect(open).toEqual(
      [0, 1, 2].map((partition) => ({
        key: LANE_CONTROL_KEY,
        value: null,
        headers: laneControlHeaders({ kind: 'open', lane: LANE, startsAt }),
        partition,
      })),
    );
    const close = sends[sends.length - 1]!.messages;
    expect(close).toEqual(
      [0, 1, 2].map((partition) => ({
        key: LANE_CONTROL_KEY,
        value: null,
        headers: laneControlHeaders({ kind: 'close', lane: LANE }),
        partition,
      })),
    );
    // Nothing but the two sets of control records is a control record; every record carries the lane.
    const middle = messages.slice(3, -3);
    expect(middle.some((m) => isLaneControl(m.headers ?? {}))).toBe(false);
    expect(middle).toHaveLength(25); // 23 touchpoints, and the link's copies on the two other partitions
    for (const m of messages) expect(m.headers?.[LANE_HEADER]).toBe(LANE);
    const copies = middle.filter((m) => m.headers?.[LINK_COPY_HEADER] !== undefined);
    expect(copies.map((m) => m.key)).toEqual(['c-1', 'c-1']);
    expect(copies.map((m) => m.partition)).toEqual([0, 1, 2].filter((p) => p !== partitionFor('c-1', 3)));
    expect(copies[0]!.headers).toEqual({ [LINK_COPY_HEADER]: '1', [LANE_HEADER]: LANE });
    expect(laneControlOf(open[0]!.headers!)).toEqual({ kind: 'open', lane: LANE, startsAt });
    expect(touchpointsSent(sends).map((t) => t.eventId)).toEqual([
      ...Array.from({ length: 20 }, (_, i) => `f-${i}`),
      'e-1',
      'e-2',
      'e-3',
    ]);
    expect(lanes).toEqual([
      { kind: 'opened', lane: LANE, partitions: 3, startsAt },
      { kind: 'closed', lane: LANE, partitions: 3, afterFailure: false },
    ]);
  });

  it('closes its lane when a send fails, says so, throws the failure and removes its runs', async () => {
    const { producer, sends } = recordingProducer((i) => i === 2);
    const lanes: LaneEvent[] = [];
    await expect(
      importFile({
        format: 'ndjson',
        file: write('tps.ndjson', linked.join('\n')),
        producer,
        serde: jsonSerde,
        topic: TOPIC,
        receivedAt: RECEIVED,
        lane: LANE,
        partitions: 2,
        batchSize: 5,
        sortBudget: { maxItems: 5 },
        tmpDir: sortDir(),
        onLane: (e) => lanes.push(e),
      }),
    ).rejects.toThrow('broker refused send 2');
    expect(lanes).toEqual([
      { kind: 'opened', lane: LANE, partitions: 2, startsAt: RECEIVED - 30 * DAY },
      { kind: 'closed', lane: LANE, partitions: 2, afterFailure: true },
    ]);
    const last = sends[sends.length - 1]!.messages;
    expect(last.map((m) => laneControlOf(m.headers!))).toEqual([
      { kind: 'close', lane: LANE },
      { kind: 'close', lane: LANE },
    ]);
    expect(fs.readdirSync(path.join(dir, 'sort'))).toEqual([]);
  });

  it('says when the close fails too, so the run can be closed with --abort', async () => {
    const { producer } = recordingProducer((i) => i >= 1);
    const lanes: LaneEvent[] = [];
    await expect(
      importFile({
        format: 'ndjson',
        file: write('tps.ndjson', linked.join('\n')),
        producer,
        serde: jsonSerde,
        topic: TOPIC,
        receivedAt: RECEIVED,
        lane: LANE,
        partitions: 2,
        onLane: (e) => lanes.push(e),
      }),
    ).rejects.toThrow('broker refused send 1');
    expect(lanes.map((e) => e.kind)).toEqual(['opened', 'close-failed']);
  });

  it('stops when aborted, then closes its lane and throws the abort reason', async () => {
    const interrupt = new AbortController();
    const { producer, sends } = recordingProducer();
    const counting: MessageProducer = {
      async send(topic, messages) {
        await producer.send(topic, messages);
        if (sends.length === 2) interrupt.abort(new Error('interrupted'));
      },
      close: () => Promise.resolve(),
    };
    await expect(
      importFile({
        format: 'ndjson',
        file: write('tps.ndjson', linked.join('\n')),
        producer: counting,
        serde: jsonSerde,
        topic: TOPIC,
        receivedAt: RECEIVED,
        lane: LANE,
        partitions: 2,
        batchSize: 2,
        signal: interrupt.signal,
      }),
    ).rejects.toThrow('interrupted');
    const last = sends[sends.length - 1]!.messages;
    expect(last.every((m) => laneControlOf(m.headers!) !== undefined)).toBe(true);
    expect(laneControlOf(last[0]!.headers!)).toEqual({ kind: 'close', lane: LANE });
    expect(touchpointsSent(sends).length).toBeLessThan(23);
  });

  it('opens no lane when nothing is to be produced', async () => {
    const { report, sends, lanes } = await run({
      format: 'ndjson',
      file: write('bad.ndjson', 'not json\n'),
    });
    expect(report).toMatchObject({ rowsRead: 1, eventsProduced: 0, rowsRejected: 1 });
    expect(sends).toEqual([]);
    expect(lanes).toEqual([]);
  });

  it('refuses a lane id that is not one', async () => {
    await expect(run({ format: 'ndjson', file: write('x.ndjson', ''), lane: 'no spaces' })).rejects.toThrow(
      /not a run id/,
    );
  });
});

describe('ciclo import: forgotten people', () => {
  it("drops a forgotten person's rows, counts them, and sends the rest", async () => {
    const file = write(
      'forgotten.ndjson',
      [
        tp('e-1', RECEIVED - DAY),
        tp('e-2', RECEIVED - DAY + 1, { anonymousId: 'gone' }),
        tp('e-3', RECEIVED - DAY + 2),
        tp('e-4', RECEIVED - DAY + 3, { anonymousId: 'ana@example.org' }),
      ].join('\n'),
    );
    const { report, sends } = await run({
      format: 'ndjson',
      file,
      privacy: {
        keptIds: (t: Touchpoint) =>
          t.anonymousId === 'ana@example.org' ? { ...t, anonymousId: 'email:ana' } : t,
        isSuppressed: (t: Touchpoint) => t.anonymousId === 'gone',
      },
    });
    expect(touchpointsSent(sends).map((t) => [t.eventId, t.anonymousId])).toEqual([
      ['e-1', 'a-1'],
      ['e-3', 'a-1'],
      ['e-4', 'email:ana'],
    ]);
    // Records are keyed by the id as kept, not as sent.
    const keys = sends.flatMap((s) => s.messages.map((m) => m.key));
    expect(keys).toContain('email:ana');
    expect(keys).not.toContain('ana@example.org');
    expect(report).toMatchObject({ rowsRead: 4, eventsProduced: 3, eventsSuppressed: 1, rowsRejected: 0 });
  });
});
