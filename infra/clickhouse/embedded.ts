/**
 * Embedded ClickHouse (chdb, 26.x) behind the same ClickHouseEngine interface, with its own data folder.
 * Used to prove our migrations and report queries also run on a modern engine. chdb keeps one engine per
 * process, so only one embedded engine may be open at a time.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ClickHouseEngine } from './engine';

interface ChdbSession {
  query(sql: string, format?: string): string;
  cleanup(): void;
}

export function openEmbeddedClickHouse(dataDir?: string): ClickHouseEngine {
  // Loaded lazily: chdb is a test/dev dependency with a large native library.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Session } = require('chdb') as { Session: new (path: string) => ChdbSession };
  const dir = dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ciclo-chdb-'));
  const session = new Session(dir);
  return {
    name: 'chdb (embedded)',
    command(sql) {
      session.query(sql, 'TabSeparated');
      return Promise.resolve();
    },
    insert(table, rows) {
      if (rows.length === 0) return Promise.resolve();
      const body = rows.map((r) => JSON.stringify(r)).join('\n');
      session.query(`INSERT INTO ${table} FORMAT JSONEachRow\n${body}`, 'TabSeparated');
      return Promise.resolve();
    },
    query<T>(sql: string) {
      const out = session.query(sql, 'JSONEachRow').trim();
      return Promise.resolve(out === '' ? [] : out.split('\n').map((line) => JSON.parse(line) as T));
    },
    close() {
      session.cleanup();
      if (!dataDir) fs.rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  };
}
