import { TOUCHPOINT_EXAMPLES } from '../../schemas/examples';
import { checkTouchpoint, isContractChecked, markContractChecked } from './check';

describe('checkTouchpoint', () => {
  const example = TOUCHPOINT_EXAMPLES.PurchaseCompleted;

  it('returns what the contract parse built, never the candidate it was given', () => {
    const checked = checkTouchpoint(example, {});
    if (!checked.ok) throw new Error('the example is valid');
    expect(checked.value).not.toBe(example);
    expect(checked.value).toEqual(example);
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
