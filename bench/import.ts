/**
 * `npm run bench:import`: `ciclo import csv` of a 5,000,000-row file in bounded memory, no services. Writes
 * a CSV of shop orders in a temporary folder (as shops export them: customer by customer, each customer's
 * orders at random times of two years), then runs the import's whole path but Kafka (stream, map and
 * validate, Avro encode, external sort, merge, lane records) against a producer that counts records and
 * drops them, with the real touchpoint serde (its registry answers schema id 1 without a network).
 *
 * Prints rows per second (read to last record counted) and the process's peak RSS
 * (process.resourceUsage().maxRSS), the target being under 1 GB. CICLO_BENCH_IMPORT_ROWS sets the row count.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { MessageProducer } from '../infra/kafka/producer';
import type { AvroRegistry } from '../infra/registry/schema-registry';
import { parseCsvMapping } from '../producers/import/csv';
import { importFile, type ImportProgress } from '../producers/import/import';
import { CONTRACTS } from '../schemas/contracts';
import { isLaneControl } from '../schemas/lanes';
import { createSerde } from '../infra/registry/serde';
import { seededRandom } from '../producers/simulate/simulate';

const ORDERS_PER_CUSTOMER = 10;
const DAY = 24 * 3600 * 1000;

export interface ImportFigures {
  readonly rows: number;
  readonly fileBytes: number;
  readonly importRowsPerSec: number;
  readonly readAndSortSec: number;
  readonly mergeAndProduceSec: number;
  readonly sortRuns: number;
  readonly peakRssMiB: number;
  readonly recordsCounted: number;
  readonly laneControlRecords: number;
}

const rng = seededRandom;

/** Writes `rows` orders, customer by customer, a chunk at a time (the generator holds one chunk). */
export function writeOrdersCsv(file: string, rows: number, now: number): void {
  const random = rng(18);
  const fd = fs.openSync(file, 'w');
  const start = now - 2 * 365 * DAY;
  try {
    fs.writeSync(fd, 'order_id,customer_id,ordered_at,total,currency\n');
    let chunk: string[] = [];
    for (let i = 0; i < rows; i++) {
      const customer = Math.floor(i / ORDERS_PER_CUSTOMER);
      const at = new Date(start + Math.floor(random() * 2 * 365 * DAY)).toISOString();
      const total = (1 + random() * 299).toFixed(2);
      chunk.push(`o-${i},c-${customer},${at},${total},EUR\n`);
      if (chunk.length === 50_000) {
        fs.writeSync(fd, chunk.join(''));
        chunk = [];
      }
    }
    if (chunk.length > 0) fs.writeSync(fd, chunk.join(''));
  } finally {
    fs.closeSync(fd);
  }
}

const MAPPING = parseCsvMapping(
  {
    source: 'bench-orders',
    type: 'PurchaseCompleted',
    eventId: { columns: ['order_id'] },
    customerId: 'customer_id',
    occurredAt: { column: 'ordered_at', format: 'iso' },
    currency: { column: 'currency' },
    payload: { orderId: { column: 'order_id' }, amountMinor: { column: 'total', as: 'money' } },
  },
  'bench mapping',
);

/** A registry that only registers (as id 1): the serde encodes locally once it has the id. */
const offlineRegistry: AvroRegistry = {
  url: 'offline:',
  register: () => Promise.resolve(1),
  setCompatibility: () => Promise.resolve(),
  getCompatibility: () => Promise.resolve(undefined),
  encode: () => Promise.reject(new Error('offline registry: encode locally')),
  decode: () => Promise.reject(new Error('offline registry: no decoding')),
  decodeKnown: () => undefined,
  listSubjects: () => Promise.resolve([]),
  listVersions: () => Promise.resolve([]),
};

export async function importFigures(rows: number, say: (line: string) => void): Promise<ImportFigures> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ciclo-bench-import-'));
  try {
    const file = path.join(dir, 'orders.csv');
    const now = Date.now();
    let t = performance.now();
    writeOrdersCsv(file, rows, now);
    const fileBytes = fs.statSync(file).size;
    say(
      `wrote ${rows} rows (${(fileBytes / 2 ** 20).toFixed(0)} MiB) in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );

    let records = 0;
    let controls = 0;
    const counting: MessageProducer = {
      send(_topic, messages) {
        for (const m of messages) {
          if (isLaneControl(m.headers ?? {})) controls += 1;
          else records += 1;
        }
        return Promise.resolve();
      },
      close: () => Promise.resolve(),
    };
    const serde = await createSerde(offlineRegistry, CONTRACTS.touchpoint, 'bench.touchpoints-value');
    const sortDir = path.join(dir, 'sort');
    fs.mkdirSync(sortDir);
    let sortRuns = 0;
    let readDone: number | undefined;
    let lastSaid = 0;
    const onProgress = (p: ImportProgress): void => {
      if (p.phase === 'producing' && readDone === undefined) {
        readDone = performance.now();
        // The runs' folder is the only one under sortDir while the merge reads it.
        sortRuns = fs
          .readdirSync(sortDir)
          .reduce((n, d) => n + fs.readdirSync(path.join(sortDir, d)).length, 0);
      }
      if (performance.now() - lastSaid > 10_000) {
        lastSaid = performance.now();
        say(p.phase === 'reading' ? `  read ${p.rows} rows` : `  produced ${p.produced} of ${p.total}`);
      }
    };
    t = performance.now();
    const report = await importFile({
      format: 'csv',
      csvMapping: MAPPING,
      file,
      producer: counting,
      serde,
      topic: 'bench.touchpoints',
      receivedAt: now,
      partitions: 6,
      tmpDir: sortDir,
      onProgress,
    });
    const end = performance.now();
    if (report.eventsProduced !== rows || report.rowsRejected !== 0)
      throw new Error(`expected ${rows} touchpoints and no rejections, got ${JSON.stringify(report)}`);
    return {
      rows,
      fileBytes,
      importRowsPerSec: Math.round(rows / ((end - t) / 1000)),
      readAndSortSec: Math.round(((readDone ?? end) - t) / 100) / 10,
      mergeAndProduceSec: Math.round((end - (readDone ?? end)) / 100) / 10,
      sortRuns,
      // maxRSS is in kilobytes (KiB) on Linux.
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      recordsCounted: records,
      laneControlRecords: controls,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const rows = Number(process.env.CICLO_BENCH_IMPORT_ROWS ?? 5_000_000);
  if (!Number.isSafeInteger(rows) || rows <= 0)
    throw new Error(`CICLO_BENCH_IMPORT_ROWS must be a positive whole number, got ${rows}`);
  const figures = await importFigures(rows, (line) => void process.stderr.write(`${line}\n`));
  const width = Math.max(...Object.keys(figures).map((k) => k.length));
  process.stdout.write(
    Object.entries(figures)
      .map(([k, v]) => `${k.padEnd(width)}  ${String(v)}\n`)
      .join(''),
  );
}

if (require.main === module)
  main().catch((err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
