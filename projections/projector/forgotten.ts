/**
 * What the projector does not project: messages of ids `ciclo forget` erased. The ids come from the
 * suppression list (infra/privacy/suppression.ts), which the forget writes first, and from forget markers on
 * the touchpoint topic (schemas/forget.ts), which reach the projector in each partition's order. A message is
 * judged by its key (a touchpoint's or stage change's customer, a snapshot's model/customer) and by the ids
 * in its value (a touchpoint's customer, anonymous and aliased ids).
 */
import type { SuppressionList } from '../../infra/privacy/suppression';
import type { IncomingMessage } from '../../infra/kafka/types';
import { pseudonymOf } from '../../schemas/pseudonym';
import { parseSnapshotKey } from '../../schemas/topics';

export interface ForgottenIds {
  /** Whether anything is forgotten at all (the usual answer, no: then nothing is hashed). */
  any(): boolean;
  hasAny(ids: readonly string[]): boolean;
  add(pseudonyms: readonly string[]): void;
}

/** Pseudonyms kept at hand: one HMAC per id, not per message. */
const CACHE_LIMIT = 100_000;

export function forgottenIds(secret: Buffer | undefined, list: SuppressionList | undefined): ForgottenIds {
  const marked = new Set<string>();
  const pseudonyms = new Map<string, string>();
  const pseudonym = (id: string): string => {
    let p = pseudonyms.get(id);
    if (p === undefined) {
      if (pseudonyms.size >= CACHE_LIMIT) pseudonyms.clear();
      pseudonyms.set(id, (p = pseudonymOf(secret!, id)));
    }
    return p;
  };
  return {
    any: () => secret !== undefined && (marked.size > 0 || (list?.size ?? 0) > 0),
    hasAny(ids) {
      for (const id of ids) {
        const p = pseudonym(id);
        if (marked.has(p) || list?.hasPseudonym(p)) return true;
      }
      return false;
    },
    add(list) {
      for (const p of list) marked.add(p);
    },
  };
}

/** The id a message's key names: the key, or for a snapshot (`snapshot`), the customer of its key. */
export function idsOfRecord(m: IncomingMessage, snapshot: boolean): string[] {
  if (m.key === null) return [];
  const key = snapshot ? parseSnapshotKey(m.key) : undefined;
  return [key ? key.customerId : m.key];
}

/** The ids a decoded value names: customer, anonymous and aliased ids. */
export function idsOfValue(value: unknown): string[] {
  if (value === null || typeof value !== 'object') return [];
  const v = value as { customerId?: unknown; anonymousId?: unknown; type?: unknown; payload?: unknown };
  const ids: string[] = [];
  if (typeof v.customerId === 'string') ids.push(v.customerId);
  if (typeof v.anonymousId === 'string') ids.push(v.anonymousId);
  if (v.type === 'Aliased' && v.payload && typeof v.payload === 'object') {
    const previous = (v.payload as { previousId?: unknown }).previousId;
    if (typeof previous === 'string') ids.push(previous);
  }
  return ids;
}
