import { Writable } from 'node:stream';
import { createLogger, REDACTED, redactPersonalData } from './log';

/** A logger writing to memory; `lines()` parses what it wrote. */
function memoryLog(): { log: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  return {
    log: createLogger({ destination }),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('personal data in logs', () => {
  it('is redacted at any depth, in arrays too', () => {
    const { log, lines } = memoryLog();
    const call = {
      type: 'identify',
      userId: 'cus_1',
      traits: { email: 'ana@example.com', name: 'Ana', plan: 'pro' },
    };
    log.info(
      {
        email: 'top@example.com',
        body: {
          batch: [call, { context: { ip: '203.0.113.7', userAgent: 'Mozilla/5.0', page: { url: '/x' } } }],
        },
        deep: { a: { b: { c: { d: { e: { f: { g: { email: 'deep@example.com' } } } } } } } },
      },
      'received',
    );
    const text = JSON.stringify(lines());
    for (const secret of [
      'top@example.com',
      'ana@example.com',
      'Ana',
      '203.0.113.7',
      'Mozilla',
      'deep@example.com',
    ])
      expect(text).not.toContain(secret);
    const [line] = lines();
    expect(line).toMatchObject({
      msg: 'received',
      email: REDACTED,
      body: { batch: [{ userId: 'cus_1', traits: { email: REDACTED, name: REDACTED, plan: 'pro' } }, {}] },
    });
    expect(text).toContain('"url":"/x"'); // what is not personal stays
  });

  it("matches keys without regard to case, - or _, and redacts a child's personal bindings", () => {
    const { log, lines } = memoryLog();
    log.child({ component: 'collector', writeKey: 'wk_secret' }).warn(
      {
        headers: { 'User-Agent': 'curl', Authorization: 'Basic abc', 'x-forwarded-for': '198.51.100.1' },
        e_mail: 'x',
        Email: 'y@example.com',
      },
      'refused',
    );
    const text = JSON.stringify(lines());
    for (const secret of ['wk_secret', 'curl', 'Basic abc', '198.51.100.1', 'y@example.com'])
      expect(text).not.toContain(secret);
    expect(lines()[0]).toMatchObject({ component: 'collector' });
  });

  it('keeps a name outside traits (a source, a component) and leaves errors to their serializer', () => {
    const { log, lines } = memoryLog();
    log.error({ source: { name: 'web', kind: 'snippet' }, err: new Error('boom') }, 'failed');
    expect(lines()[0]).toMatchObject({ source: { name: 'web' }, err: { message: 'boom' } });
  });

  it('copies nothing without personal data, handles cycles and shared objects', () => {
    const clean = { a: { b: [1, 2, { c: 'x' }] } };
    expect(redactPersonalData(clean)).toBe(clean);
    const shared = { email: 'a@example.com' };
    const both = redactPersonalData({ one: shared, two: shared, traits: shared });
    expect(both).toEqual({ one: { email: REDACTED }, two: { email: REDACTED }, traits: { email: REDACTED } });
    expect(shared.email).toBe('a@example.com'); // the logged object itself is never changed
    const cyclic: Record<string, unknown> = { phone: '+1 555' };
    cyclic.self = cyclic;
    expect(redactPersonalData(cyclic)).toEqual({ phone: REDACTED, self: '[Circular]' });
  });

  it('replaces what is nested past the walk limit whole', () => {
    let nested: Record<string, unknown> = { email: 'far@example.com' };
    for (let i = 0; i < 40; i++) nested = { next: nested };
    expect(JSON.stringify(redactPersonalData(nested))).not.toContain('far@example.com');
  });
});
