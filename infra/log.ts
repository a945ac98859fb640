/**
 * One pino root logger; components take a child with their name. Logs go to stderr so that command output
 * on stdout stays machine-readable. Personal data is redacted wherever it appears in a logged object.
 *
 * pino's own `redact` takes fixed paths: `*.email` covers one level only and it has no recursive wildcard
 * (https://getpino.io/#/docs/redaction), so an address nested deeper (a batch's call's traits) went out.
 * Instead a log formatter walks every logged object, at any depth, and replaces the value of a personal
 * key: one in PERSONAL_KEYS anywhere, or one in PERSONAL_TRAITS inside `traits` (Segment's reserved
 * identify traits; `name` elsewhere names a source or a component). Keys compare without case, `-` or `_`
 * (`userAgent`, `user-agent`, `user_agent`). Plain objects and arrays are walked; anything else (an Error,
 * a request) is left to its serializer. Objects without personal keys are logged as they are, uncopied.
 * pino's `redact` still covers what the formatter cannot see: serializers' output (the request's headers
 * and address), and a child logger's bindings, to which pino applies no formatter (top-level keys only).
 */
import { isMainThread } from 'node:worker_threads';
import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

export const REDACTED = '[redacted]';

/** Personal wherever they appear (normalised: lower case, no `-` or `_`). */
const PERSONAL_KEYS = new Set([
  'email',
  'phone',
  'ip',
  'ipaddress',
  'remoteaddress',
  'xforwardedfor',
  'useragent',
  'authorization',
  'cookie',
  'setcookie',
  'writekey',
  'password',
]);
/** Personal inside `traits` (https://segment.com/docs/connections/spec/identify/#traits). */
const PERSONAL_TRAITS = new Set(['name', 'firstname', 'lastname', 'address', 'birthday', 'username']);
/** Deeper than this a value is replaced whole: a log line is no place for it, and the walk stays bounded. */
const MAX_DEPTH = 32;

const normalise = (key: string): string => key.toLowerCase().replace(/[-_]/g, '');

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Walk state: what each object already walked became (an object may be logged twice; inside `traits` and
 * outside it redacts differently, hence two maps), and the objects on the current path (a cycle).
 */
interface Walk {
  readonly done: readonly [Map<object, unknown>, Map<object, unknown>];
  readonly open: Set<object>;
}

function redactIn(value: unknown, inTraits: boolean, depth: number, walk: Walk): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (!Array.isArray(value) && !isPlainObject(value)) return value;
  const done = walk.done[inTraits ? 1 : 0];
  if (done.has(value)) return done.get(value);
  if (walk.open.has(value)) return '[Circular]';
  if (depth > MAX_DEPTH) return REDACTED;
  walk.open.add(value);
  const result = Array.isArray(value)
    ? redactArray(value, inTraits, depth, walk)
    : redactObject(value, inTraits, depth, walk);
  walk.open.delete(value);
  done.set(value, result);
  return result;
}

function redactArray(value: readonly unknown[], inTraits: boolean, depth: number, walk: Walk): unknown {
  let copy: unknown[] | undefined;
  value.forEach((item, i) => {
    const next = redactIn(item, inTraits, depth + 1, walk);
    if (next !== item) (copy ??= [...value])[i] = next;
  });
  return copy ?? value;
}

function redactObject(
  value: Record<string, unknown>,
  inTraits: boolean,
  depth: number,
  walk: Walk,
): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value)) {
    const name = normalise(key);
    const personal = PERSONAL_KEYS.has(name) || (inTraits && PERSONAL_TRAITS.has(name));
    const next =
      personal && item !== undefined ? REDACTED : redactIn(item, name === 'traits', depth + 1, walk);
    if (next !== item) (copy ??= { ...value })[key] = next;
  }
  return copy ?? value;
}

/** `value` with every personal field, at any depth, replaced by REDACTED; unchanged objects are not copied. */
export function redactPersonalData<T>(value: T): T {
  return redactIn(value, false, 0, { done: [new Map(), new Map()], open: new Set() }) as T;
}

/** The pino options that redact personal data; every ciclo logger, test loggers included, is built with them. */
export function redactingOptions(): Pick<pino.LoggerOptions, 'formatters' | 'redact'> {
  return {
    formatters: { log: (object) => redactPersonalData(object) },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.remoteAddress',
        'req.ip',
        ...['email', 'phone', 'ip', 'userAgent', 'authorization', 'cookie', 'writeKey', 'password'],
      ],
      censor: REDACTED,
    },
  };
}

export function createLogger(
  options: { level?: string; name?: string; destination?: DestinationStream } = {},
): Logger {
  return pino(
    {
      name: options.name ?? 'ciclo',
      level: options.level ?? 'info',
      ...redactingOptions(),
    },
    // In a worker thread (`ciclo process`, infra/processor-heap.ts) pino has no exit hook to flush an
    // asynchronous destination, and the lines logged just before process.exit were lost: written at once there.
    options.destination ?? pino.destination({ dest: 2, sync: !isMainThread }),
  );
}
