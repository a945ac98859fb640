/**
 * Reading an import file as a stream of rows, never whole: lines for cdnow and NDJSON, csv-parse records
 * for CSV. `onBytes` is told how many bytes each chunk read had (the progress bar's share of the file).
 */
import fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { parse } from 'csv-parse';
import { csvParseOptions, csvRowOf, csvUnreadable, type CsvMapping, type CsvRow } from './csv';
import type { SourceRow } from './rows';

const CHUNK_BYTES = 1024 * 1024;

/** The lines of a file, numbered from 1, without their line break (LF or CRLF). */
export async function* linesOf(file: string, onBytes?: (bytes: number) => void): AsyncGenerator<SourceRow> {
  const decoder = new StringDecoder('utf8');
  let carry = '';
  let line = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: CHUNK_BYTES })) {
    const bytes = chunk as Buffer;
    onBytes?.(bytes.length);
    const text = carry + decoder.write(bytes);
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      line += 1;
      yield {
        line,
        text: text.charCodeAt(end - 1) === 13 ? text.slice(start, end - 1) : text.slice(start, end),
      };
      start = end + 1;
    }
    carry = text.slice(start);
  }
  carry += decoder.end();
  if (carry.length > 0) yield { line: line + 1, text: carry.endsWith('\r') ? carry.slice(0, -1) : carry };
}

/** The records of a CSV file, as the mapping says to read it. */
export async function* csvRowsOf(
  file: string,
  mapping: CsvMapping,
  onBytes?: (bytes: number) => void,
): AsyncGenerator<CsvRow> {
  const input = fs.createReadStream(file, { highWaterMark: CHUNK_BYTES });
  if (onBytes) input.on('data', (chunk) => onBytes(chunk.length));
  const parser = parse(csvParseOptions(mapping));
  // A read error ends the parser with it, so the loop below sees it.
  input.on('error', (err) => parser.destroy(err));
  input.pipe(parser);
  try {
    for await (const record of parser) yield csvRowOf(record);
  } catch (err) {
    throw csvUnreadable(err);
  } finally {
    input.destroy();
  }
}
