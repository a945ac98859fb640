/**
 * Forget markers: how `ciclo forget` tells every reader of the touchpoint topic that a person is erased, in
 * the topic's own order. One control record goes to every partition (like an import lane's, schemas/lanes.ts):
 * key FORGET_KEY, no value, headers below. The person's ids travel as keyed pseudonyms (schemas/pseudonym.ts),
 * never in clear: the marker stays on the topic as long as the touchpoints do.
 *
 * A reader holding a partition erases what it holds of those ids when the marker comes, and drops whatever
 * comes for them after it: the processor (tombstones for state, snapshots and changelog, in the transaction
 * that commits the marker), the projector (rows it has not written yet).
 */
type MessageHeaders = Readonly<Record<string, string>>;

/** On a forget marker: the request's id (what `ciclo forget` printed). */
export const FORGET_HEADER = 'ciclo-forget';
/** On a forget marker: the pseudonyms of every id of the person, comma-separated. */
export const FORGET_IDS_HEADER = 'ciclo-forget-ids';
/** The key of forget markers (no touchpoint has it). */
export const FORGET_KEY = '__ciclo-forget__';

export interface ForgetMarker {
  readonly request: string;
  /** Pseudonyms (schemas/pseudonym.ts) of the person's ids. */
  readonly pseudonyms: readonly string[];
}

const PSEUDONYM = /^[A-Za-z0-9_-]{22}$/;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;
/** Far more ids than one person has; bounds what a marker costs a reader. */
export const FORGET_IDS_LIMIT = 10_000;

export function forgetMarkerHeaders(marker: ForgetMarker): Record<string, string> {
  return { [FORGET_HEADER]: marker.request, [FORGET_IDS_HEADER]: marker.pseudonyms.join(',') };
}

/** Whether a record is a forget marker (skip it before decoding its value). */
export function isForgetMarker(headers: MessageHeaders): boolean {
  return headers[FORGET_HEADER] !== undefined;
}

/** The marker a record's headers carry, a reason it is malformed (a string), or undefined for another record. */
export function forgetMarkerOf(headers: MessageHeaders): ForgetMarker | string | undefined {
  const request = headers[FORGET_HEADER];
  if (request === undefined) return undefined;
  if (!REQUEST_ID.test(request))
    return `${FORGET_HEADER} must be a request id (letters, digits, . _ : -; at most 64), got ${JSON.stringify(request)}`;
  const list = headers[FORGET_IDS_HEADER] ?? '';
  const pseudonyms = list === '' ? [] : list.split(',');
  if (pseudonyms.length === 0 || pseudonyms.length > FORGET_IDS_LIMIT)
    return `${FORGET_IDS_HEADER} must list 1 to ${FORGET_IDS_LIMIT} pseudonyms, got ${pseudonyms.length}`;
  const bad = pseudonyms.find((p) => !PSEUDONYM.test(p));
  if (bad !== undefined)
    return `${FORGET_IDS_HEADER} holds ${JSON.stringify(bad.slice(0, 40))}, not a pseudonym`;
  return { request, pseudonyms };
}
