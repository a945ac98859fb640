import { DEFAULT_START, simulate } from '../simulate/simulate';
import { toSegmentCall } from '../simulate/segment-calls';
import { asParsedCall, CALL_SCHEMAS, SEGMENT_CALL_TYPES, type SegmentCallType } from './segment';

/** What the schema's parse returns for the call, or undefined when it refuses it. */
function parsed(type: SegmentCallType, call: unknown): unknown {
  const result = CALL_SCHEMAS[type].safeParse(call);
  return result.success ? result.data : undefined;
}

const simulated = simulate({ customers: 300, seed: 7, days: 120, start: DEFAULT_START }).map(
  (tp) =>
    JSON.parse(JSON.stringify(toSegmentCall(tp))) as Record<string, unknown> & { type: SegmentCallType },
);

/** Values of every kind a sender might put in a field. */
const VALUES: unknown[] = [
  undefined,
  null,
  '',
  'text',
  0,
  42,
  -1.5,
  Number.NaN,
  true,
  [],
  ['a'],
  {},
  { a: 1 },
  '2026-03-14T09:30:00Z',
  '2026-03-14T09:30:00+01:00',
  '2026-03-14T09:30:00',
  '2026-03-14',
  'yesterday',
  new Date(0),
  Object.create(null) as object,
  JSON.parse('{"__proto__": {"x": 1}}') as object,
  { [Symbol('s')]: 1 },
];

const FIELDS = [
  'userId',
  'anonymousId',
  'messageId',
  'timestamp',
  'context',
  'event',
  'properties',
  'traits',
  'name',
  'category',
  'previousId',
  'context.page',
  'context.page.url',
  'context.page.title',
  'context.campaign',
  'context.campaign.source',
  'context.userAgent',
  'context.ip',
  'context.locale',
];

function withField(call: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const [head, ...rest] = path.split('.');
  const copy = { ...call };
  if (rest.length === 0) copy[head!] = value;
  else {
    const inner = copy[head!];
    copy[head!] = withField(
      inner !== null && typeof inner === 'object' && !Array.isArray(inner)
        ? (inner as Record<string, unknown>)
        : {},
      rest.join('.'),
      value,
    );
  }
  return copy;
}

describe('asParsedCall', () => {
  it('takes every simulated call as it is, equal to what its schema parse returns', () => {
    for (const call of simulated) {
      expect(asParsedCall(call.type, call)).toBe(call);
      expect(parsed(call.type, call)).toEqual(call);
    }
  });

  it('never takes a call its schema refuses or changes, whatever is in any field', () => {
    const samples = SEGMENT_CALL_TYPES.map(
      (type) => simulated.find((c) => c.type === (type === 'screen' ? 'page' : type)) ?? { type },
    );
    let taken = 0;
    let refused = 0;
    for (const [i, type] of SEGMENT_CALL_TYPES.entries()) {
      for (const field of FIELDS) {
        for (const value of VALUES) {
          const call = withField(samples[i]!, field, value);
          const fast = asParsedCall(type, call);
          if (fast === undefined) {
            refused += 1;
            continue;
          }
          taken += 1;
          expect(fast).toBe(call);
          expect({ type, field, value, parsed: parsed(type, call) }).toEqual({
            type,
            field,
            value,
            parsed: call,
          });
        }
      }
    }
    expect(taken).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });
});
