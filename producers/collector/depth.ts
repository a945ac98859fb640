/**
 * How deep a parsed JSON value nests. JSON.parse takes any depth a body limit lets through (half a MB of
 * `[` is 260,000 levels), but JSON.stringify and every recursive walk (the content hash's canonical JSON,
 * properties as strings) overflow the stack at a few thousand: a call is refused past MAX_CALL_DEPTH, and
 * what is kept of it as a dead letter is cut there. Both walks stop at the limit, so neither recurses
 * deeper than it. Pure.
 */

/**
 * Levels a call may nest: the call is 1, its properties 2, a product list 3, a product 4. Segment's spec
 * calls use under 8; 32 leaves room for custom properties.
 */
export const MAX_CALL_DEPTH = 32;

/** Whether `value` nests deeper than `max` levels (an object or array is one level; a scalar none). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (max <= 0) return true;
  const children = Array.isArray(value) ? value : Object.values(value as Record<string, unknown>);
  for (const child of children) if (nestsDeeperThan(child, max - 1)) return true;
  return false;
}

/** The marker that replaces what lies deeper than the cut. */
export const CUT = '[nested too deep]';

/** A copy of `value` whose objects and arrays below `max` levels are replaced by CUT. */
export function cutAt(value: unknown, max: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (max <= 0) return CUT;
  if (Array.isArray(value)) return value.map((v: unknown) => cutAt(v, max - 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    // A key "__proto__" (JSON.parse makes it an own property) stays a plain key of the copy.
    Object.defineProperty(out, k, { value: cutAt(v, max - 1), enumerable: true, writable: true });
  }
  return out;
}
