/**
 * The suppression list: ids `ciclo forget` erased, as pseudonyms (schemas/pseudonym.ts), in the compacted
 * topic `ciclo.forgotten`, kept for good. Whoever writes touchpoints drops those of a listed id, and the
 * projector drops what it reads of one, so a forgotten person is not recorded again by a client that keeps
 * sending (Segment keeps such a list for the same reason: "Suppression" in its User Deletion and Suppression
 * docs). Value: JSON `{ request, at }`.
 */
import type { CompactedTable } from '../kafka/compacted-table';
import { pseudonymOf } from '../../schemas/pseudonym';

export interface SuppressionList {
  /** Whether the id was forgotten (as of the last record this process read). */
  isForgotten(id: string): boolean;
  hasPseudonym(pseudonym: string): boolean;
  /** How many pseudonyms are listed. */
  readonly size: number;
  /** Lists the pseudonyms; resolves once Kafka has them. */
  add(pseudonyms: readonly string[], request: string, at: number): Promise<void>;
  catchUp(): Promise<void>;
  close(): Promise<void>;
}

/** The suppression list over the forgotten topic read as a table (connect.ts; a test passes one of its own). */
export function suppressionListOver(table: CompactedTable, secret: Buffer): SuppressionList {
  return {
    // An empty list (the usual case) costs no hash.
    isForgotten: (id) => table.size > 0 && table.get(pseudonymOf(secret, id)) !== undefined,
    hasPseudonym: (pseudonym) => table.get(pseudonym) !== undefined,
    get size() {
      return table.size;
    },
    async add(pseudonyms, request, at) {
      const value = Buffer.from(JSON.stringify({ request, at }), 'utf8');
      await table.write(pseudonyms.map((key) => ({ key, value })));
    },
    catchUp: () => table.catchUp(),
    close: () => table.close(),
  };
}
