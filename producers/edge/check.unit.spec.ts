import { TOUCHPOINT_EXAMPLES } from '../../schemas/examples';
import { checkTouchpoint, isContractChecked, markContractChecked } from './check';

describe('checkTouchpoint', () => {
  const example = TOUCHPOINT_EXAMPLES.PurchaseCompleted;

  it('returns a candidate in its checked form as it is, and otherwise what the contract parse built', () => {
    const checked = checkTouchpoint(example, {});
    if (!checked.ok) throw new Error('the example is valid');
    expect(checked.value).toBe(example); // the parse would return it unchanged (schemas/fast-check.ts)
    // An unknown key is not the checked form: the parse builds the touchpoint, without it.
    const withExtra = { ...example, debug: true };
    const parsed = checkTouchpoint(withExtra, {});
    if (!parsed.ok) throw new Error('an unknown key is dropped, not refused');
    expect(parsed.value).not.toBe(withExtra);
    expect(parsed.value).toEqual(example);
  });

  it('reports problems at the request path the field came from', () => {
    const checked = checkTouchpoint(
      { ...example, payload: { ...example.payload, amountMinor: 'x' } },
      { 'payload.amountMinor': 'properties.total' },
    );
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.problems.map((p) => p.path)).toEqual(['properties.total']);
  });

  it('marks lists as contract-checked by freezing them, and only those', () => {
    const checked = checkTouchpoint(example, {});
    if (!checked.ok) throw new Error('the example is valid');
    const list = markContractChecked([checked.value]);
    expect(isContractChecked(list)).toBe(true);
    expect(Object.isFrozen(list)).toBe(true);
    expect(() => (list as typeof list & { push(x: unknown): void }).push(example)).toThrow();
    expect(isContractChecked([checked.value])).toBe(false);
  });
});
