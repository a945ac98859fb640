import { emailAnonymousId, isEmailLike, keptId, pseudonymOf, withKeptIds } from './pseudonym';
import type { Touchpoint } from './touchpoint';

const secret = Buffer.alloc(32, 5);
const other = Buffer.alloc(32, 6);
const at = Date.UTC(2026, 0, 1);
const base = { occurredAt: at, receivedAt: at, source: { kind: 'api' as const, name: 'shop' } };

describe('keyed pseudonyms', () => {
  it('are 22 base64url characters, stable under one secret and different under another', () => {
    expect(pseudonymOf(secret, 'cust-1')).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(pseudonymOf(secret, 'cust-1')).toBe(pseudonymOf(secret, 'cust-1'));
    expect(pseudonymOf(other, 'cust-1')).not.toBe(pseudonymOf(secret, 'cust-1'));
  });

  it('give one email id per normalized email, which says nothing of the address', () => {
    const id = emailAnonymousId(secret, ' Ana@Example.ORG ');
    expect(id).toBe(emailAnonymousId(secret, 'ana@example.org'));
    expect(id).toMatch(/^email:[A-Za-z0-9_-]{22}$/);
    expect(id).not.toContain('ana');
  });
});

describe('ids as ciclo keeps them', () => {
  it('keeps an email sent as an id as its email id, and any other id as sent', () => {
    expect(isEmailLike('ana@example.org')).toBe(true);
    expect(isEmailLike('cust-42')).toBe(false);
    expect(isEmailLike('@handle')).toBe(false);
    expect(isEmailLike('a@b')).toBe(false);
    expect(keptId(secret, 'ana@example.org')).toBe(emailAnonymousId(secret, 'ana@example.org'));
    expect(keptId(secret, 'cust-42')).toBe('cust-42');
  });

  it("maps every id a touchpoint names: customer, anonymous, an alias's previous id, a referee", () => {
    const mail = emailAnonymousId(secret, 'ana@example.org');
    const alias: Touchpoint = {
      ...base,
      eventId: 'a1',
      type: 'Aliased',
      customerId: 'ana@example.org',
      payload: { previousId: 'Ana@Example.org' },
    };
    expect(withKeptIds(secret, alias)).toMatchObject({ customerId: mail, payload: { previousId: mail } });
    const referral: Touchpoint = {
      ...base,
      eventId: 'r1',
      type: 'ReferralMade',
      customerId: 'cust-1',
      anonymousId: 'ana@example.org',
      payload: { referralId: 'ref-1', refereeId: 'bo@example.org' },
    };
    expect(withKeptIds(secret, referral)).toMatchObject({
      customerId: 'cust-1',
      anonymousId: mail,
      payload: { refereeId: emailAnonymousId(secret, 'bo@example.org') },
    });
  });

  it('returns the same object when no id is an email', () => {
    const page: Touchpoint = {
      ...base,
      eventId: 'p1',
      type: 'PageViewed',
      anonymousId: 'anon-1',
      payload: {},
    };
    expect(withKeptIds(secret, page)).toBe(page);
  });
});
