/**
 * Validating a touchpoint built at the edge against the contract, with each problem reported at the path of
 * the field in what the sender sent (a Segment call, a Stripe event), not in the touchpoint.
 */
import { CONTRACTS } from '../../schemas/contracts';
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
 * Lists of touchpoints that checkTouchpoint returned (candidates the contract's fast check vouched for, or
 * objects its parse built), frozen, which nothing changes afterwards: encoding them need not validate them again. One
 * mark per list (a request), not per touchpoint: marking each cost more than a tenth of what it saved.
 */
const contractChecked = new WeakSet<readonly Touchpoint[]>();

/**
 * Freezes `touchpoints` and marks the list as contract-checked. Only for touchpoints every one of which
 * checkTouchpoint returned.
 */
export function markContractChecked(touchpoints: Touchpoint[]): readonly Touchpoint[] {
  Object.freeze(touchpoints);
  contractChecked.add(touchpoints);
  return touchpoints;
}

/** Whether the list was marked by markContractChecked (so each touchpoint is valid by the contract). */
export function isContractChecked(touchpoints: readonly Touchpoint[]): boolean {
  return contractChecked.has(touchpoints);
}

export function checkTouchpoint(candidate: unknown, origins: Origins): Validated<Touchpoint> {
  // A candidate in its checked form is valid as it is: the parse would return it unchanged.
  if (CONTRACTS.touchpoint.isCheckedForm(candidate)) return { ok: true, value: candidate as Touchpoint };
  const checked = validateWith(TouchpointSchema, candidate);
  if (checked.ok) return checked;
  return {
    ok: false,
    problems: checked.problems.map((p) => ({ ...p, path: toRequestPath(p.path, origins) })),
  };
}

export function prefixProblems(prefix: string, problems: readonly ValidationProblem[]): ValidationProblem[] {
  if (!prefix) return [...problems];
  return problems.map((p) => ({ ...p, path: p.path ? `${prefix}.${p.path}` : prefix }));
}
