/**
 * Batch import: stream the file -> map and validate each row -> sort by event time -> produce, for the
 * cdnow preset, CSV by a mapping file, and NDJSON touchpoints. Consumes a file; produces Avro touchpoints
 * to the touchpoint topic, in (occurredAt, eventId) order, in a lane of the run's own (schemas/lanes.ts):
 * an `open` record on every partition before the first touchpoint, the lane header on every record, a
 * `close` on every partition once Kafka has acknowledged the last touchpoint. Delivery: at least once (the
 * idempotent producer's); ids derive from the rows, so a repeated import changes nothing downstream.
 *
 * Why sorted: an import lane's clock is the newest event time it has written, so the processor applies
 * everything up to it at once (processors/domain/lanes.ts); a file in customer order would put each
 * customer's history behind the clock of the customers before it. The sort is external past a memory
 * budget (external-sort.ts), so a file of millions of rows imports in bounded memory.
 *
 * URLs keep less, as in every way in: a row's page URL, PageViewed path and email link keep only their
 * `utm_*` and allowed query parameters, its referrer its origin, before the contract's check (rows.ts
 * `withKeptUrls`, the allowlist `urlQueryAllowlist`).
 *
 * Nothing accepted is dropped and nothing rejected is silent: every rejected row goes, with its line and
 * reason, to <input>.rejected.ndjson (or the current folder when the input's is not writable), including
 * rows whose event time is more than 5 minutes ahead of the import's receivedAt.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CicloError } from '../../infra/errors';
import type { MessageProducer } from '../../infra/kafka/producer';
import { createPrivateFile } from '../../infra/private-file';
import type { TouchpointPrivacy } from '../../infra/privacy/personal-data';
import { Admission } from './admission';
import { isLaneId, newLaneId } from '../../schemas/lanes';
import type { ContractSerde } from '../../infra/registry/serde';
import { TOPICS, touchpointRecords } from '../../schemas/topics';
import type { Touchpoint } from '../../schemas/touchpoint';
import type { QueryAllowlist } from '../edge/url-minimization';
import { cdnowIds, cdnowRow } from './cdnow';
import { csvIds, csvRow, type CsvMapping, type CsvRow } from './csv';
import { DEFAULT_SORT_BUDGET, ExternalSorter, type SortBudget, type SortItem } from './external-sort';
import { inLane, sendLaneControl } from './lane';
import { ndjsonRow } from './ndjson';
import { csvRowsOf, linesOf } from './read';
import {
  admitted,
  byEventTime,
  type DraftIds,
  type MappedRow,
  type RejectedRow,
  type SourceRow,
} from './rows';

export const IMPORT_FORMATS = ['cdnow', 'csv', 'ndjson'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

export interface ImportReport {
  readonly rowsRead: number;
  readonly eventsProduced: number;
  /** Events of forgotten people, dropped (`ciclo forget`). */
  readonly eventsSuppressed: number;
  readonly rowsRejected: number;
  readonly rejectedFile?: string;
}

/** Reading: rows so far and the bytes of the file they came from; producing: touchpoints Kafka has. */
export type ImportProgress =
  | { readonly phase: 'reading'; readonly rows: number; readonly bytes: number; readonly totalBytes: number }
  | { readonly phase: 'producing'; readonly produced: number; readonly total: number };

export type LaneEvent =
  | { readonly kind: 'opened'; readonly lane: string; readonly partitions: number; readonly startsAt: number }
  | {
      readonly kind: 'closed';
      readonly lane: string;
      readonly partitions: number;
      readonly afterFailure: boolean;
    }
  | { readonly kind: 'close-failed'; readonly lane: string; readonly error: unknown };

export interface ImportOptions {
  readonly format: ImportFormat;
  /** For format csv: how columns become touchpoint fields (producers/import/csv.ts). */
  readonly csvMapping?: CsvMapping;
  readonly file: string;
  readonly producer: MessageProducer;
  readonly serde: Pick<ContractSerde<Touchpoint>, 'encodeAll'>;
  readonly topic: string;
  /** The import's receivedAt: on every touchpoint it builds, and the bound on event times (5 min ahead). */
  readonly receivedAt: number;
  /**
   * Query parameters a URL in a row keeps besides `utm_*` (CICLO_URL_QUERY_ALLOWLIST, parsed by the entry
   * point: ../edge/url-query-allowlist.ts); none when absent.
   */
  readonly urlQueryAllowlist?: QueryAllowlist;
  /** The run's lane id (schemas/lanes.ts newLaneId); a new one when absent. */
  readonly lane?: string;
  /** The topic's partition count (every one gets the lane's control records); TOPICS' when absent. */
  readonly partitions?: number;
  /** Touchpoints per send (default 500). */
  readonly batchSize?: number;
  /** How much the sort keeps in memory before it writes runs to temporary files. */
  readonly sortBudget?: Partial<SortBudget>;
  /** Where the sort's temporary folder goes (default os.tmpdir()). */
  readonly tmpDir?: string;
  /** Aborting stops the run between rows or sends; its lane is closed, and the abort's reason thrown. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ImportProgress) => void;
  readonly onLane?: (event: LaneEvent) => void;
  /**
   * Ids as ciclo keeps them (an email sent as an id becomes its email id), and whether a touchpoint's person
   * was forgotten: such rows are dropped and counted (infra/privacy/personal-data.ts).
   */
  readonly privacy?: Pick<TouchpointPrivacy, 'keptIds' | 'isSuppressed'>;
}

/** Sends of a run in flight at once: reading, encoding and Kafka's round trips overlap. */
const SENDS_IN_FLIGHT = 4;
const PROGRESS_EVERY_ROWS = 10_000;
/** Touchpoints encoded at once while reading. */
const ENCODE_BATCH = 1000;

export async function importFile(options: ImportOptions): Promise<ImportReport> {
  const lane = options.lane ?? newLaneId(options.receivedAt);
  if (!isLaneId(lane)) throw new CicloError('CONFIG_INVALID', `"${lane}" is not a run id`);
  const partitions = partitionsOf(options);
  const sorter = sorterFor(options);
  const rejected = new RejectedRowsFile(options.file);
  const laneState = { opened: false };
  try {
    const format = formatOf(options);
    const admission = new Admission(options.privacy);
    const read = await readInto(sorter, rejected, format, options, admission);
    rejected.close();
    const total = sorter.count - read.placeholders;
    const produced = await produceSorted(
      batchesOf(sorter, format, options, admission),
      total,
      { ...options, lane, partitions },
      laneState,
    );
    return {
      rowsRead: read.rows,
      eventsProduced: produced,
      eventsSuppressed: admission.suppressed,
      rowsRejected: rejected.count,
      ...(rejected.file !== undefined ? { rejectedFile: rejected.file } : {}),
    };
  } catch (err) {
    if (laneState.opened) {
      try {
        await sendLaneControl(options.producer, options.topic, { kind: 'close', lane }, partitions);
        options.onLane?.({ kind: 'closed', lane, partitions, afterFailure: true });
      } catch (closeErr) {
        options.onLane?.({ kind: 'close-failed', lane, error: closeErr });
      }
    }
    throw err;
  } finally {
    rejected.close();
    sorter.dispose();
  }
}

/** A format as the import runs it: its rows, how one is mapped, and how drafts get their ids. */
interface Format {
  readonly rows: (onBytes: (bytes: number) => void) => AsyncIterable<SourceRow>;
  readonly map: (row: SourceRow) => MappedRow<unknown>;
  readonly ids?: DraftIds<unknown>;
}

/** The touchpoint topic's partition count: lane markers and links go to every partition. */
function partitionsOf(options: Pick<ImportOptions, 'partitions'>): number {
  return options.partitions ?? TOPICS.touchpoints.partitions;
}

function formatOf(options: ImportOptions): Format {
  const { file, receivedAt } = options;
  const allowlist = options.urlQueryAllowlist ?? [];
  switch (options.format) {
    case 'cdnow':
      return {
        rows: (onBytes) => linesOf(file, onBytes),
        map: (row) => cdnowRow(row.text),
        ids: cdnowIds(receivedAt),
      };
    case 'ndjson':
      return { rows: (onBytes) => linesOf(file, onBytes), map: (row) => ndjsonRow(row.text, allowlist) };
    case 'csv': {
      const mapping = options.csvMapping;
      if (!mapping) throw new CicloError('CONFIG_INVALID', 'a csv import needs a mapping');
      const map = csvRow(mapping, receivedAt, allowlist);
      return {
        rows: (onBytes) => csvRowsOf(file, mapping, onBytes),
        map: (row) => map(row as CsvRow),
        // Rows get their final ids from an id column; without one, identical rows are numbered.
        ...(mapping.eventId ? {} : { ids: csvIds(mapping) }),
      };
    }
    default: {
      const never: never = options.format;
      return never;
    }
  }
}

/**
 * Reads every row into the sort: touchpoints with final ids encoded already (their records packed,
 * `packRecords`), drafts as JSON. Rejected rows go to the rejected file as they come.
 */
async function readInto(
  sorter: ExternalSorter,
  rejected: RejectedRowsFile,
  format: Format,
  options: ImportOptions,
  admission: Admission,
): Promise<{ rows: number; placeholders: number }> {
  const totalBytes = fs.statSync(options.file).size;
  let bytes = 0;
  let rows = 0;
  let placeholders = 0;
  const progress = (): void => options.onProgress?.({ phase: 'reading', rows, bytes, totalBytes });
  // Touchpoints wait here to be encoded many at once (serde.encodeAll writes them into one buffer).
  let pending: Touchpoint[] = [];
  let pendingValidated: boolean[] = [];
  const encodePending = async (): Promise<void> => {
    if (pending.length === 0) return;
    const validated = new Set(pending.filter((_, i) => pendingValidated[i]));
    const touchpoints = admission.admit(pending);
    [pending, pendingValidated] = [[], []];
    const values = await options.serde.encodeAll(touchpoints, (tp) => validated.has(tp));
    touchpoints.forEach((tp, j) =>
      sorter.add({
        at: tp.occurredAt,
        key: tp.eventId,
        body: packRecords(touchpointRecords(tp, values[j]!, partitionsOf(options))),
      }),
    );
  };
  for await (const row of format.rows((n) => (bytes += n))) {
    options.signal?.throwIfAborted();
    const mapped = admitted(format.map(row), options.receivedAt);
    if (mapped.kind === 'skipped') continue;
    rows += 1;
    if (rows % PROGRESS_EVERY_ROWS === 0) progress();
    switch (mapped.kind) {
      case 'rejected':
        rejected.add({ line: row.line, text: row.text, reason: mapped.reason });
        break;
      case 'touchpoint':
        if (format.ids) throw new Error(`format ${options.format} mixed drafts and final touchpoints`);
        pending.push(mapped.touchpoint);
        pendingValidated.push(mapped.validated);
        if (pending.length >= ENCODE_BATCH) await encodePending();
        break;
      case 'draft':
        if (!format.ids)
          throw new Error(`format ${options.format} made a draft without a way to give it ids`);
        sorter.add({ at: mapped.at, key: mapped.group, body: Buffer.from(JSON.stringify(mapped.draft)) });
        if (mapped.rejected !== undefined) {
          placeholders += 1;
          rejected.add({ line: row.line, text: row.text, reason: mapped.rejected });
        }
        break;
      default: {
        const never: never = mapped;
        return never;
      }
    }
  }
  await encodePending();
  progress();
  return { rows, placeholders };
}

/** What the produce loop sends at once: a batch of touchpoints as records, and its first event time. */
interface RecordBatch {
  readonly records: { key: string; value: Buffer; partition?: number; headers?: Record<string, string> }[];
  readonly touchpoints: number;
  readonly firstAt: number;
}

/** The sorted touchpoints in batches of records, encoded (drafts get their ids and are encoded here). */
async function* batchesOf(
  sorter: ExternalSorter,
  format: Format,
  options: ImportOptions,
  admission: Admission,
): AsyncGenerator<RecordBatch> {
  const size = options.batchSize ?? 500;
  if (!format.ids) {
    let records: RecordBatch['records'] = [];
    let count = 0;
    let firstAt = 0;
    for (const item of sorter.sorted()) {
      if (count === 0) firstAt = item.at;
      for (const r of unpackRecords(item.body)) records.push(r);
      if (++count === size) {
        yield { records, touchpoints: count, firstAt };
        [records, count] = [[], 0];
      }
    }
    if (count > 0) yield { records, touchpoints: count, firstAt };
    return;
  }
  let batch: Touchpoint[] = [];
  const encoded = async (drafted: Touchpoint[]): Promise<RecordBatch> => {
    const touchpoints = admission.admit(drafted);
    const values = await options.serde.encodeAll(touchpoints);
    return {
      records: touchpoints.flatMap((tp, i) => touchpointRecords(tp, values[i]!, partitionsOf(options))),
      touchpoints: touchpoints.length,
      firstAt: drafted[0]!.occurredAt,
    };
  };
  for (const tp of draftsInOrder(sorter.sorted(), format.ids, options)) {
    batch.push(tp);
    if (batch.length === size) {
      yield await encoded(batch);
      batch = [];
    }
  }
  if (batch.length > 0) yield await encoded(batch);
}

/**
 * Touchpoints from sorted drafts, in (occurredAt, eventId) order: the drafts of one time and group come
 * together out of the sort and get their ids; where ids follow their groups (cdnow) a group is ordered by
 * itself, else every touchpoint of one event time is ordered together (in a sort of its own, external past
 * the same budget, for a file with very many rows at one time).
 */
function* draftsInOrder(
  items: Iterable<SortItem>,
  ids: DraftIds<unknown>,
  options: ImportOptions,
): Generator<Touchpoint> {
  let group: { at: number; key: string; drafts: unknown[] } | undefined;
  let tie: TimeTie | undefined;
  function* flushGroup(): Generator<Touchpoint> {
    if (!group) return;
    const touchpoints = ids.touchpoints(group.key, group.drafts);
    group = undefined;
    if (ids.idsFollowGroups) {
      yield* touchpoints.sort(byEventTime);
      return;
    }
    tie ??= new TimeTie(options);
    tie.add(touchpoints);
  }
  function* flushTie(): Generator<Touchpoint> {
    if (!tie) return;
    const done = tie;
    tie = undefined;
    yield* done.sorted();
  }
  try {
    for (const item of items) {
      if (group && (item.at !== group.at || item.key !== group.key)) {
        const at = group.at;
        yield* flushGroup();
        if (item.at !== at) yield* flushTie();
      }
      group ??= { at: item.at, key: item.key, drafts: [] };
      group.drafts.push(JSON.parse(item.body.toString('utf8')));
    }
    yield* flushGroup();
    yield* flushTie();
  } finally {
    tie?.dispose(); // a run stopped halfway leaves no runs of a time's sort behind
  }
}

/** The touchpoints of one event time, in event id order: in memory, or sorted externally past the budget. */
class TimeTie {
  private touchpoints: Touchpoint[] = [];
  private sorter: ExternalSorter | undefined;
  private readonly maxItems: number;

  constructor(private readonly options: ImportOptions) {
    this.maxItems = options.sortBudget?.maxItems ?? DEFAULT_SORT_BUDGET.maxItems;
  }

  add(touchpoints: readonly Touchpoint[]): void {
    for (const tp of touchpoints) {
      if (this.sorter) this.sorter.add(asSortItem(tp));
      else this.touchpoints.push(tp);
    }
    if (!this.sorter && this.touchpoints.length > this.maxItems) {
      this.sorter = sorterFor(this.options);
      for (const tp of this.touchpoints) this.sorter.add(asSortItem(tp));
      this.touchpoints = [];
    }
  }

  *sorted(): Generator<Touchpoint> {
    if (!this.sorter) {
      yield* this.touchpoints.sort(byEventTime);
      return;
    }
    try {
      for (const item of this.sorter.sorted()) yield JSON.parse(item.body.toString('utf8')) as Touchpoint;
    } finally {
      this.dispose();
    }
  }

  dispose(): void {
    this.sorter?.dispose();
    this.touchpoints = [];
  }
}

function sorterFor(options: ImportOptions): ExternalSorter {
  return new ExternalSorter({
    ...(options.sortBudget ? { budget: options.sortBudget } : {}),
    ...(options.tmpDir !== undefined ? { tmpDir: options.tmpDir } : {}),
  });
}

const asSortItem = (tp: Touchpoint): SortItem => ({
  at: tp.occurredAt,
  key: tp.eventId,
  body: Buffer.from(JSON.stringify(tp)),
});

/**
 * Sends the batches in the run's lane: the lane opened on every partition before the first (its start the
 * first batch's first event time, the earliest of the run), closed after Kafka has acknowledged the last.
 * A run with nothing to send opens no lane.
 */
async function produceSorted(
  batches: AsyncIterable<RecordBatch>,
  total: number,
  options: ImportOptions & { lane: string; partitions: number },
  laneState: { opened: boolean },
): Promise<number> {
  const { producer, topic, lane, partitions } = options;
  const tag = inLane(lane);
  let produced = 0;
  const inFlight: Promise<void>[] = [];
  try {
    for await (const batch of batches) {
      options.signal?.throwIfAborted();
      if (!laneState.opened) {
        await sendLaneControl(producer, topic, { kind: 'open', lane, startsAt: batch.firstAt }, partitions);
        laneState.opened = true;
        options.onLane?.({ kind: 'opened', lane, partitions, startsAt: batch.firstAt });
        options.onProgress?.({ phase: 'producing', produced, total });
      }
      const sent = producer.send(topic, batch.records.map(tag)).then(() => {
        produced += batch.touchpoints;
        options.onProgress?.({ phase: 'producing', produced, total });
      });
      // Awaited below, in order; until then a failure must not surface as an unhandled rejection.
      sent.catch(() => undefined);
      inFlight.push(sent);
      if (inFlight.length >= SENDS_IN_FLIGHT) await inFlight.shift();
    }
    while (inFlight.length > 0) await inFlight.shift();
  } catch (err) {
    // The lane closes after what is still in flight has settled, so its close is the last record.
    await Promise.allSettled(inFlight);
    throw err;
  }
  if (laneState.opened) {
    await sendLaneControl(producer, topic, { kind: 'close', lane }, partitions);
    laneState.opened = false;
    options.onLane?.({ kind: 'closed', lane, partitions, afterFailure: false });
  }
  return produced;
}

/**
 * A touchpoint's records (`touchpointRecords`: the fact, and a link's copy on every other partition) in one
 * buffer for the sort: a record count (uint16), then per record its key and its headers as JSON (uint16
 * length each) and its partition (int16, -1: by its key), then the value the records share.
 */
export function packRecords(
  records: readonly { key: string; value: Buffer; partition?: number; headers?: Record<string, string> }[],
): Buffer {
  const parts = records.map((r) => ({
    key: Buffer.from(r.key, 'utf8'),
    headers: Buffer.from(r.headers ? JSON.stringify(r.headers) : '', 'utf8'),
    partition: r.partition ?? -1,
  }));
  const value = records[0]!.value;
  const size = 2 + parts.reduce((n, p) => n + 6 + p.key.length + p.headers.length, 0) + value.length;
  const out = Buffer.allocUnsafe(size);
  let pos = out.writeUInt16LE(parts.length, 0);
  for (const p of parts) {
    pos = out.writeUInt16LE(p.key.length, pos);
    pos += p.key.copy(out, pos);
    pos = out.writeUInt16LE(p.headers.length, pos);
    pos += p.headers.copy(out, pos);
    pos = out.writeInt16LE(p.partition, pos);
  }
  value.copy(out, pos);
  return out;
}

export function unpackRecords(
  body: Buffer,
): { key: string; value: Buffer; partition?: number; headers?: Record<string, string> }[] {
  const count = body.readUInt16LE(0);
  let pos = 2;
  const heads: { key: string; partition?: number; headers?: Record<string, string> }[] = [];
  for (let i = 0; i < count; i++) {
    const keyLength = body.readUInt16LE(pos);
    const key = body.toString('utf8', pos + 2, pos + 2 + keyLength);
    pos += 2 + keyLength;
    const headersLength = body.readUInt16LE(pos);
    const headers =
      headersLength > 0
        ? (JSON.parse(body.toString('utf8', pos + 2, pos + 2 + headersLength)) as Record<string, string>)
        : undefined;
    pos += 2 + headersLength;
    const partition = body.readInt16LE(pos);
    pos += 2;
    heads.push({ key, ...(partition >= 0 ? { partition } : {}), ...(headers ? { headers } : {}) });
  }
  const value = body.subarray(pos);
  return heads.map((h) => ({ ...h, value }));
}

/** The rejected rows of a run, written as they come to <input>.rejected.ndjson (opened at the first). */
class RejectedRowsFile {
  count = 0;
  file: string | undefined;
  private fd: number | undefined;
  private lines: string[] = [];
  private closed = false;

  constructor(private readonly input: string) {}

  add(row: RejectedRow): void {
    this.count += 1;
    this.lines.push(JSON.stringify(row));
    if (this.lines.length >= 1000) this.flush();
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private flush(): void {
    if (this.lines.length === 0) return;
    if (this.fd === undefined) this.open();
    fs.writeSync(this.fd!, `${this.lines.join('\n')}\n`);
    this.lines = [];
  }

  /**
   * Rejected rows are input verbatim, personal data included: a private file (0600) that is never written
   * through a link (infra/private-file.ts). Beside the input, else, when that folder is not writable, here.
   */
  private open(): void {
    const beside = `${this.input}.rejected.ndjson`;
    try {
      this.fd = createPrivateFile(beside);
      this.file = beside;
    } catch (err) {
      // A link or a folder at the path is said, not worked around.
      if (err instanceof CicloError && err.code === 'FILE_UNSAFE') throw err;
      const here = path.resolve(`${path.basename(this.input)}.rejected.ndjson`);
      this.fd = createPrivateFile(here);
      this.file = here;
    }
  }
}

/** Produces touchpoints in batches, each keyed by customer, in the live lane; resolves once Kafka has all. */
export async function produceTouchpoints(
  producer: MessageProducer,
  serde: Pick<ContractSerde<Touchpoint>, 'encode'>,
  topic: string,
  touchpoints: readonly Touchpoint[],
  options: { partitions: number; batchSize?: number; onProgress?: (done: number, total: number) => void },
): Promise<number> {
  const batchSize = options.batchSize ?? 500;
  let produced = 0;
  for (let i = 0; i < touchpoints.length; i += batchSize) {
    const batch = touchpoints.slice(i, i + batchSize);
    await producer.send(
      topic,
      (
        await Promise.all(
          batch.map(async (tp) => touchpointRecords(tp, await serde.encode(tp), options.partitions)),
        )
      ).flat(),
    );
    produced += batch.length;
    options.onProgress?.(produced, touchpoints.length);
  }
  return produced;
}
