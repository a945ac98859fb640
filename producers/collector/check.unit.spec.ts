import { TOUCHPOINT_EXAMPLES } from '../../schemas/examples';
import { checkTouchpoint, isContractChecked } from './check';

describe('checkTouchpoint', () => {
  const example = TOUCHPOINT_EXAMPLES.PurchaseCompleted;

  it('marks what it returns as contract-checked, never the candidate it was given', () => {
    const checked = checkTouchpoint(example, {});
    if (!checked.ok) throw new Error('the example is valid');
    expect(checked.value).not.toBe(example);
    expect(isContractChecked(checked.value)).toBe(true);
    expect(isContractChecked(example)).toBe(false);
  });

  it('reports problems at the request path the field came from', () => {
    const checked = checkTouchpoint(
      { ...example, payload: { ...example.payload, amountMinor: 'x' } },
      { 'payload.amountMinor': 'properties.total' },
    );
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.problems.map((p) => p.path)).toEqual(['properties.total']);
  });
});
