/**
 * Validating a touchpoint built at the edge against the contract, with each problem reported at the path of
 * the field in what the sender sent (a Segment call, a Stripe event), not in the touchpoint.
 */
import { TouchpointSchema, type Touchpoint } from '../../schemas/touchpoint';
import { validateWith, type Validated, type ValidationProblem } from '../../schemas/validation';

/** Touchpoint path (e.g. "payload.amountMinor") -> path in the request (e.g. "properties.total"). */
export type Origins = Readonly<Record<string, string>>;

/** The request path a touchpoint path came from: the longest recorded prefix wins; unknown paths stay. */
export function toRequestPath(path: string, origins: Origins): string {
  let best: string | undefined;
  for (const key of Object.keys(origins)) {
    if ((path === key || path.startsWith(`${key}.`)) && (best === undefined || key.length > best.length))
      best = key;
  }
  return best === undefined ? path : `${origins[best]}${path.slice(best.length)}`;
}

/**
 * The touchpoints checkTouchpoint returned: objects the contract's own parse built (never the candidate
 * itself), which nothing changes afterwards, so encoding them need not validate them a second time.
 */
const contractChecked = new WeakSet<Touchpoint>();

/** Whether `tp` is a touchpoint checkTouchpoint returned (and so valid by the touchpoint contract). */
export function isContractChecked(tp: Touchpoint): boolean {
  return contractChecked.has(tp);
}

export function checkTouchpoint(candidate: unknown, origins: Origins): Validated<Touchpoint> {
  const checked = validateWith(TouchpointSchema, candidate);
  if (checked.ok) {
    contractChecked.add(checked.value);
    return checked;
  }
  return {
    ok: false,
    problems: checked.problems.map((p) => ({ ...p, path: toRequestPath(p.path, origins) })),
  };
}

export function prefixProblems(prefix: string, problems: readonly ValidationProblem[]): ValidationProblem[] {
  if (!prefix) return [...problems];
  return problems.map((p) => ({ ...p, path: p.path ? `${prefix}.${p.path}` : prefix }));
}
