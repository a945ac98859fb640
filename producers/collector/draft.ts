/**
 * A touchpoint payload under construction from a Segment call (mapping.ts, track-mappers.ts): the fields it
 * gets, the request path each came from (recorded only when a call has a problem, to name the sender's
 * field), and the problems found on the way; with the small coercions Segment senders need (ids as numbers,
 * whole numbers as strings, money in major units).
 */
import type { TouchpointType } from '../../schemas/touchpoint';
import type { ValidationProblem } from '../../schemas/validation';
import { toMinorUnits } from '../edge/money';
import { minimizeReferrer, minimizeUrl, type QueryAllowlist } from '../edge/url-minimization';

export type Props = Readonly<Record<string, unknown>>;

/**
 * Whether drafts record the request path each field came from. Only a call with a problem needs them (to
 * name the sender's field), so every call is mapped without them first and, when anything is wrong, mapped
 * again with them: the mapping is pure, so the second pass builds the same touchpoint and finds the same
 * problems. True only during that second pass (mapSegmentCall).
 */
let recordingOrigins = false;

/** Runs `map` with drafts recording origins (see recordingOrigins). */
export function recordingOriginsIn<T>(map: () => T): T {
  recordingOrigins = true;
  try {
    return map();
  } finally {
    recordingOrigins = false;
  }
}

/**
 * A touchpoint payload under construction, with (when recording) the request path each payload field came
 * from so that a contract violation can be reported against what the sender wrote.
 */
export interface Draft {
  readonly type: TouchpointType;
  readonly payload: Record<string, unknown>;
  /** Touchpoint path (e.g. "payload.lineItems.0.unitPriceMinor") -> request path; undefined when not recording. */
  readonly origins: Record<string, string> | undefined;
  readonly problems: ValidationProblem[];
}

export function newDraft(type: TouchpointType, payloadOrigin: string): Draft {
  return {
    type,
    payload: {},
    origins: recordingOrigins ? { payload: payloadOrigin } : undefined,
    problems: [],
  };
}

/** Records where a touchpoint field came from, when the draft records origins. */
export function origin(d: Draft, path: string, from: string): void {
  if (d.origins) d.origins[path] = from;
}

/** Sets a payload field (when present) and records where it came from. */
export function put(d: Draft, field: string, value: unknown, from: string): void {
  if (value !== undefined && value !== null) d.payload[field] = value;
  if (d.origins) d.origins[`payload.${field}`] = from;
}

/** The first of `keys` present in `props`, with the key it was found under. */
export function pick(props: Props, keys: readonly string[]): { key: string; value: unknown } | undefined {
  for (const key of keys) {
    const value = props[key];
    if (value !== undefined && value !== null) return { key, value };
  }
  return undefined;
}

/** Ids may arrive as numbers (order_id: 1042); the contract wants strings. */
export function asId(value: unknown): unknown {
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
}

/** Whole numbers may arrive as strings ("2"); anything else is left for the contract to judge. */
export function asInt(value: unknown): unknown {
  return typeof value === 'string' && /^-?\d{1,9}$/.test(value.trim()) ? Number(value) : value;
}

/** A URL as a touchpoint keeps it (../edge/url-minimization.ts); anything else is left for the contract to judge. */
export function asKeptUrl(value: unknown, allowlist: QueryAllowlist): unknown {
  return typeof value === 'string' ? minimizeUrl(value, allowlist) : value;
}

/** A referrer as a touchpoint keeps it, its origin; anything else is left for the contract to judge. */
export function asKeptReferrer(value: unknown): unknown {
  return typeof value === 'string' ? minimizeReferrer(value) : value;
}

export function asCurrency(value: unknown, fallback: string): unknown {
  if (value === undefined || value === null || value === '') return fallback;
  return typeof value === 'string' ? value.trim().toUpperCase() : value;
}

/** Custom properties and traits as strings: strings as they are, anything else JSON-encoded. */
export function asStrings(
  values: Props | null | undefined,
  skip: ReadonlySet<string> = new Set(),
): Record<string, string> | undefined {
  if (!values) return undefined;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined || skip.has(key)) continue;
    out[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

export function isObject(value: unknown): value is Props {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Money in major units at `origin` to a minor-units payload field; problems are recorded on the draft. */
export function putMoney(
  d: Draft,
  field: string,
  found: { key: string; value: unknown } | undefined,
  currency: unknown,
  originBase: string,
  fallbackOrigin: string,
): void {
  const from = found ? `${originBase}.${found.key}` : fallbackOrigin;
  if (d.origins) d.origins[`payload.${field}`] = from;
  if (!found) return;
  const converted = toMinorUnits(found.value, typeof currency === 'string' ? currency : '');
  if (converted.ok) d.payload[field] = converted.minor;
  else d.problems.push({ path: from, rule: converted.rule, message: converted.message });
}

/** Milliseconds since the epoch from an ISO 8601 string or a number of milliseconds. */
export function asMillis(value: unknown): unknown {
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value)) {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? value : ms;
  }
  return value;
}
