import { emailAnonymousId, pseudonymOf } from '../../schemas/pseudonym';
import type { Touchpoint } from '../../schemas/touchpoint';
import { memoryTable } from './fakes';
import { keyRingOver } from './key-ring';
import { privateSerde, touchpointPrivacy } from './personal-data';
import type { ContractSerde } from '../registry/serde';
import { seal, unseal } from './seal';
import { suppressionListOver } from './suppression';

const secret = Buffer.alloc(32, 7);
const at = Date.UTC(2026, 0, 5);

function identified(customerId: string, eventId = `e-${customerId}`): Touchpoint {
  return {
    eventId,
    type: 'Identified',
    customerId,
    anonymousId: `anon-${customerId}`,
    occurredAt: at,
    receivedAt: at,
    source: { kind: 'api', name: 'web' },
    context: {
      pageUrl: 'https://shop.example/account',
      referrer: 'https://search.example/',
      ip: '203.0.113.0',
    },
    payload: { email: `${customerId}@example.com`, name: 'Ada Lovelace', plan: 'pro' },
  };
}

function setUp() {
  const keysTable = memoryTable();
  const listTable = memoryTable();
  const keys = keyRingOver(keysTable, secret);
  const list = suppressionListOver(listTable, secret);
  return { keysTable, listTable, keys, list, privacy: touchpointPrivacy(secret, keys, list) };
}

describe('sealing personal fields', () => {
  it('given an Identified touchpoint, when prepared, then email, name, page url and ip are sealed and nothing else', async () => {
    const { privacy } = setUp();
    const { kept } = await privacy.prepare([identified('c1')]);
    const sealed = kept[0]!;
    const text = JSON.stringify(sealed);
    expect(text).not.toContain('c1@example.com');
    expect(text).not.toContain('Ada');
    expect(text).not.toContain('203.0.113');
    expect(text).not.toContain('/account');
    expect(sealed).toMatchObject({
      customerId: 'c1',
      payload: { plan: 'pro' },
      context: { referrer: 'https://search.example/' },
    });
    expect(sealed.sealed).toMatch(/^1\.[A-Za-z0-9_-]{8}\./);
  });

  it('given a sealed touchpoint and its key, when opened, then it is the touchpoint as sent', async () => {
    const { privacy } = setUp();
    const tp = identified('c1');
    const { kept } = await privacy.prepare([tp]);
    expect(await privacy.open(kept[0]!)).toEqual({ state: 'open', touchpoint: tp });
  });

  it('given the key was destroyed, when opened, then the personal fields are gone and it says erased', async () => {
    const { privacy, keys, keysTable } = setUp();
    const { kept } = await privacy.prepare([identified('c1'), identified('c2')]);
    expect(await keys.destroy(new Set([pseudonymOf(secret, 'c1')]))).toBe(1);
    const opened = await privacy.open(kept[0]!);
    expect(opened.state).toBe('erased');
    expect(JSON.stringify(opened.touchpoint)).not.toMatch(/c1@example|Ada|sealed/);
    expect((await privacy.open(kept[1]!)).state).toBe('open');
    expect([...keysTable.keys()].every((k) => k.startsWith(pseudonymOf(secret, 'c2')))).toBe(true);
  });

  it('given two touchpoints of one id, then one key is created and written once', async () => {
    const { privacy, keysTable } = setUp();
    await privacy.prepare([identified('c1', 'a'), identified('c1', 'b')]);
    await privacy.prepare([identified('c1', 'c')]);
    expect(keysTable.writes).toHaveLength(1);
    expect(keysTable.writes[0]!.key.startsWith(`${pseudonymOf(secret, 'c1')}/`)).toBe(true);
  });

  it('given a touchpoint without personal fields, then no key is made and it is unchanged', async () => {
    const { privacy, keysTable } = setUp();
    const purchase: Touchpoint = {
      eventId: 'p1',
      type: 'PurchaseCompleted',
      customerId: 'c1',
      occurredAt: at,
      receivedAt: at,
      source: { kind: 'import', name: 'shop' },
      payload: { orderId: 'o1', lineItems: [], amountMinor: 100, currency: 'USD' },
    };
    expect((await privacy.prepare([purchase])).kept).toEqual([purchase]);
    expect(keysTable.writes).toHaveLength(0);
  });

  it('given a forgotten id, then its touchpoints are suppressed, by customer, anonymous or aliased id', async () => {
    const { privacy, list } = setUp();
    await list.add([pseudonymOf(secret, 'anon-c1')], 'r1', at);
    const alias: Touchpoint = {
      eventId: 'al',
      type: 'Aliased',
      customerId: 'c9',
      occurredAt: at,
      receivedAt: at,
      source: { kind: 'api', name: 'web' },
      payload: { previousId: 'anon-c1' },
    };
    const { kept, suppressed } = await privacy.prepare([identified('c1'), identified('c2'), alias]);
    expect(suppressed.map((t) => t.eventId)).toEqual(['e-c1', 'al']);
    expect(kept.map((t) => t.eventId)).toEqual(['e-c2']);
  });

  it('given a sealed value moved to another record, then it does not open', () => {
    const key = { id: 'k1234567', bytes: Buffer.alloc(32, 1) };
    const sealed = seal(key, 'event-a', 'secret text');
    expect(unseal(key.bytes, 'event-a', sealed)).toBe('secret text');
    expect(unseal(key.bytes, 'event-b', sealed)).toBeUndefined();
    expect(unseal(Buffer.alloc(32, 2), 'event-a', sealed)).toBeUndefined();
  });

  it('given dead-letter bytes, then they are sealed for the id and open until the key is destroyed', async () => {
    const { privacy, keys } = setUp();
    const raw = Buffer.from('{"userId":"c1","traits":{"email":"c1@example.com"}}');
    const sealed = await privacy.sealBytes('c1', 'letter-1', raw);
    expect(sealed.toString()).not.toContain('c1@example.com');
    expect(await privacy.openBytes('c1', 'letter-1', sealed)).toEqual(raw);
    expect(await privacy.openBytes('c1', 'letter-1', raw)).toEqual(raw);
    await keys.destroy(new Set([pseudonymOf(secret, 'c1')]));
    expect(await privacy.openBytes('c1', 'letter-1', sealed)).toBeUndefined();
  });
});

describe('ids as ciclo keeps them, on the way in', () => {
  it('given an email as userId: the touchpoint is keyed by its email id, and forgetting that id suppresses it', async () => {
    const { privacy, list } = setUp();
    const sent = identified('ada@example.org', 'evt-1');
    const { kept } = await privacy.prepare([sent]);
    const mail = emailAnonymousId(secret, 'ada@example.org');
    expect(kept[0]!.customerId).toBe(mail);
    expect(JSON.stringify(kept[0])).not.toContain('ada@example.org');
    await list.add([pseudonymOf(secret, mail)], 'r1', at);
    expect((await privacy.prepare([sent])).suppressed).toHaveLength(1);
  });
});

describe('the serde of writers and readers', () => {
  const json: ContractSerde<Touchpoint> = {
    subject: 's',
    schemaId: 1,
    encode: (tp) => Promise.resolve(Buffer.from(JSON.stringify(tp))),
    encodeAll: (tps) => Promise.all(tps.map((tp) => Promise.resolve(Buffer.from(JSON.stringify(tp))))),
    decode: (buf) =>
      Promise.resolve({ ok: true, value: JSON.parse(buf.toString()) as Touchpoint, schemaId: 1 }),
  };

  it('seals on the way in, opens on the way out, and says when fields did not open', async () => {
    const { privacy, keys } = setUp();
    const erased: string[] = [];
    const serde = privateSerde(json, privacy, (tp) => erased.push(tp.eventId));
    const [bytes] = await serde.encodeAll([identified('c1')]);
    expect(bytes!.toString()).not.toContain('c1@example.com');
    const decoded = await serde.decode(bytes!);
    expect(decoded.ok && decoded.value).toEqual(identified('c1'));
    expect(erased).toEqual([]);
    await keys.destroy(new Set([pseudonymOf(secret, 'c1')]));
    const after = await serde.decode(bytes!);
    expect(after.ok && JSON.stringify(after.value)).not.toContain('c1@example.com');
    expect(erased).toEqual(['e-c1']);
  });
});
