/**
 * Batch import: read -> map -> validate -> produce, for the cdnow preset, CSV by a mapping file, and NDJSON
 * touchpoints. Nothing
 * accepted is dropped and nothing rejected is silent: every rejected row goes, with its line and reason,
 * to <input>.rejected.ndjson (or the current folder when the input's is not writable).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { MessageProducer } from '../../infra/kafka/producer';
import type { ContractSerde } from '../../schemas/serde';
import { touchpointRecords } from '../../schemas/topics';
import { TouchpointSchema, type Touchpoint } from '../../schemas/touchpoint';
import { formatProblems, validateWith } from '../../schemas/validation';
import { cdnowTouchpoints, type RejectedRow } from './cdnow';
import { csvTouchpoints, type CsvMapping } from './csv';

export const IMPORT_FORMATS = ['cdnow', 'csv', 'ndjson'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

export interface ImportReport {
  readonly rowsRead: number;
  readonly eventsProduced: number;
  readonly rowsRejected: number;
  readonly rejectedFile?: string;
}

export function ndjsonTouchpoints(text: string): {
  touchpoints: Touchpoint[];
  rejected: RejectedRow[];
  rows: number;
} {
  const touchpoints: Touchpoint[] = [];
  const rejected: RejectedRow[] = [];
  let rows = 0;
  text.split('\n').forEach((raw, i) => {
    if (!raw.trim()) return;
    rows += 1;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      rejected.push({ line: i + 1, text: raw, reason: 'not valid JSON' });
      return;
    }
    const checked = validateWith(TouchpointSchema, json);
    if (checked.ok) touchpoints.push(checked.value);
    else rejected.push({ line: i + 1, text: raw, reason: formatProblems(checked.problems) });
  });
  return { touchpoints, rejected, rows };
}

/** Produces touchpoints in batches, each keyed by customer; resolves once Kafka has all of them. */
export async function produceTouchpoints(
  producer: MessageProducer,
  serde: Pick<ContractSerde<Touchpoint>, 'encode'>,
  topic: string,
  touchpoints: readonly Touchpoint[],
  options: { batchSize?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<number> {
  const batchSize = options.batchSize ?? 500;
  let produced = 0;
  for (let i = 0; i < touchpoints.length; i += batchSize) {
    const batch = touchpoints.slice(i, i + batchSize);
    await producer.send(
      topic,
      (await Promise.all(batch.map(async (tp) => touchpointRecords(tp, await serde.encode(tp))))).flat(),
    );
    produced += batch.length;
    options.onProgress?.(produced, touchpoints.length);
  }
  return produced;
}

function mapRows(
  text: string,
  options: { format: ImportFormat; receivedAt: number; csvMapping?: CsvMapping },
): { touchpoints: Touchpoint[]; rejected: RejectedRow[]; rows: number } {
  switch (options.format) {
    case 'cdnow':
      return cdnowTouchpoints(text, options.receivedAt);
    case 'ndjson':
      return ndjsonTouchpoints(text);
    case 'csv':
      if (!options.csvMapping) throw new Error('a csv import needs a mapping');
      return csvTouchpoints(text, options.csvMapping, options.receivedAt);
    default: {
      const never: never = options.format;
      return never;
    }
  }
}

export async function importFile(options: {
  format: ImportFormat;
  /** For format csv: how columns become touchpoint fields (producers/import/csv.ts). */
  csvMapping?: CsvMapping;
  file: string;
  producer: MessageProducer;
  serde: Pick<ContractSerde<Touchpoint>, 'encode'>;
  topic: string;
  receivedAt: number;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}): Promise<ImportReport> {
  const text = fs.readFileSync(options.file, 'utf8');
  const mapped = mapRows(text, options);
  const produced = await produceTouchpoints(
    options.producer,
    options.serde,
    options.topic,
    mapped.touchpoints,
    {
      ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    },
  );
  let rejectedFile: string | undefined;
  if (mapped.rejected.length > 0) {
    const lines = mapped.rejected.map((r) => JSON.stringify(r)).join('\n') + '\n';
    rejectedFile = `${options.file}.rejected.ndjson`;
    try {
      fs.writeFileSync(rejectedFile, lines);
    } catch {
      rejectedFile = path.resolve(`${path.basename(options.file)}.rejected.ndjson`);
      fs.writeFileSync(rejectedFile, lines);
    }
  }
  return {
    rowsRead: mapped.rows,
    eventsProduced: produced,
    rowsRejected: mapped.rejected.length,
    ...(rejectedFile ? { rejectedFile } : {}),
  };
}
