/** An in-memory CompactedTable, for unit tests of what is built on one. */
import type { CompactedTable } from '../kafka/compacted-table';

export function memoryTable(): CompactedTable & { writes: { key: string; value: Buffer | null }[] } {
  const rows = new Map<string, Buffer>();
  const writes: { key: string; value: Buffer | null }[] = [];
  return {
    writes,
    get: (key) => rows.get(key),
    keys: () => rows.keys(),
    get size() {
      return rows.size;
    },
    catchUp: () => Promise.resolve(),
    write(records) {
      for (const r of records) {
        writes.push({ key: r.key, value: r.value });
        if (r.value === null) rows.delete(r.key);
        else rows.set(r.key, r.value);
      }
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
}
