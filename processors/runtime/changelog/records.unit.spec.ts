import { fnv1a, tokensOf } from '../../domain/applied-archive';
import { evolve, initialState, type CustomerState } from '../../domain/customer';
import { CHANGELOG_STATE_FIELDS, changelogJson } from '../../domain/customer-record';
import type { IdentityMessage } from '../../domain/identity';
import { readCustomerState, readIdentityMessage } from './records';

describe('identity messages read back', () => {
  it("keep a progress's unset clocks (-Infinity, which JSON writes as null)", () => {
    // A partition that has routed nothing yet announces the import lanes it saw: its clocks are unset.
    const sent: IdentityMessage = {
      kind: 'progress',
      partition: 2,
      to: 0,
      upTo: -Infinity,
      newest: -Infinity,
      handedUpTo: -Infinity,
      lanes: { 'import-20261206T070221Z-rao27m': 1737350428269 },
    };
    const json = JSON.stringify(sent);
    expect(json).toContain('"upTo":null');
    expect(readIdentityMessage(json, { partition: 0, key: 'identity@0' })).toEqual(sent);
  });
});

describe("a customer's state read back", () => {
  const place = { partition: 3, key: 'five-stage/ann' };
  const ann = (): CustomerState => {
    const s = initialState('ann', 'reach', 1000);
    evolve(s, {
      eventId: 'p1',
      type: 'PurchaseCompleted',
      customerId: 'ann',
      occurredAt: 2000,
      receivedAt: 2000,
      source: { kind: 'api', name: 'shop' },
      context: { utmSource: 'news', utmCampaign: 'spring' },
      payload: { orderId: 'o1', lineItems: [], amountMinor: 1999, currency: 'EUR' },
    });
    s.appliedArchive = 'AAAAAA';
    return s;
  };
  const withoutArchive = (s: CustomerState): Omit<CustomerState, 'appliedArchive'> => {
    const { appliedArchive: _archive, ...rest } = s;
    return rest;
  };

  it('lists every field of a state but the archive, in the order states are made', () => {
    expect([...CHANGELOG_STATE_FIELDS]).toEqual(
      Object.keys(initialState('ann', 'reach', 0)).filter((k) => k !== 'appliedArchive'),
    );
  });

  it('is written as its values in that order (format 13), and read back as the state', () => {
    const s = ann();
    const json = changelogJson(s);
    expect(json.startsWith('["ann",[],1000,')).toBe(true);
    expect(json).not.toContain('AAAAAA');
    // The latest applied hashes as the archive's tokens, not as numbers (format 12).
    expect(s.applied).toEqual([fnv1a('p1')]);
    expect(json.endsWith(`,"${tokensOf([fnv1a('p1')])}"]`)).toBe(true);
    const read = readCustomerState(json, place);
    expect(read).toEqual({ ...withoutArchive(s), appliedArchive: undefined });
    expect(read.acquisitionChannel).toBe(s.acquisitionChannel);
    expect(read.netRevenueMinor).toBe(1999);
    expect(read.latestNps).toBeUndefined();
  });

  it('reads the applied hashes of format 12, a list of numbers', () => {
    const s = ann();
    s.applied = [fnv1a('p1'), 0xffffffff, 0];
    const values = JSON.parse(changelogJson(s)) as unknown[];
    values[CHANGELOG_STATE_FIELDS.indexOf('applied')] = s.applied;
    const read = readCustomerState(JSON.stringify(values), place);
    expect(read).toEqual({ ...withoutArchive(s), appliedArchive: undefined });
    expect(readCustomerState(changelogJson(s), place)).toEqual(read);
  });

  it('reads the named fields of formats 1 to 11', () => {
    const s = ann();
    expect(readCustomerState(JSON.stringify(withoutArchive(s)), place)).toEqual(withoutArchive(s));
  });

  it('refuses a record with another number of values, or a value of the wrong kind', () => {
    const values = JSON.parse(changelogJson(ann())) as unknown[];
    const short = (): CustomerState => readCustomerState(JSON.stringify(values.slice(1)), place);
    expect(short).toThrow(
      `${CHANGELOG_STATE_FIELDS.length - 1} values where ${CHANGELOG_STATE_FIELDS.length}`,
    );
    expect(short).toThrow('five-stage/ann');
    const refusedWith = (field: string, value: unknown): string => {
      const wrong = [...values];
      wrong[CHANGELOG_STATE_FIELDS.indexOf(field as never)] = value;
      try {
        readCustomerState(JSON.stringify(wrong), place);
      } catch (err) {
        return (err as Error).message;
      }
      return 'read';
    };
    expect(refusedWith('orders', 'one')).toContain('its orders is "one", not a number');
    expect(refusedWith('mergedIds', ['ann', 7])).toContain(
      'its mergedIds is ["ann",7], not a list of strings',
    );
    expect(refusedWith('unsubscribed', 'no')).toContain('not true or false');
    expect(refusedWith('earlierPurchaseDays', 0)).toContain('its earlierPurchaseDays is 0');
    expect(refusedWith('stage', null)).toContain('its stage is null, not a string');
    expect(refusedWith('currency', 12)).toContain('not a string or null');
    expect(refusedWith('currency', null)).toBe('read');
    expect(refusedWith('applied', 'AAAAA')).toContain('its applied is "AAAAA", not applied-event tokens');
    expect(refusedWith('applied', 'AAAAA*')).toContain('not applied-event tokens or a list of numbers');
    expect(refusedWith('applied', [1, 'x'])).toContain('its applied is [1,"x"]');
    expect(refusedWith('applied', [1, 2])).toBe('read');
  });

  it('puts each value in the field that list names (every value distinct, so a swap shows)', () => {
    const values = CHANGELOG_STATE_FIELDS.map((field, i) => {
      const s = ann() as unknown as Record<string, unknown>;
      const v = s[field];
      if (typeof v === 'number' || v === undefined) return field === 'earlierPurchaseDays' ? i : 1000 + i;
      if (typeof v === 'string') return `${field}-${i}`;
      if (typeof v === 'boolean') return true;
      if (field === 'applied') return tokensOf([i]);
      return typeof (v as unknown[])[0] === 'number' ? [i] : [`${field}-${i}`];
    });
    const json = JSON.stringify(values);
    expect(changelogJson(readCustomerState(json, place))).toBe(json);
  });
});
