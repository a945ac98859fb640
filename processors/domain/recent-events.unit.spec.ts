import { RecentEvents, type RecentEventsRecord } from './recent-events';

const HOUR = 3_600_000;
const options = { windowMs: 24 * HOUR, maxEvents: 400 };

describe('recent events: copies of input events dropped where they enter', () => {
  it('takes an event once per key, and the same id under another key is another event', () => {
    const recent = new RecentEvents(options);
    expect(recent.takeFirst('ann', 'e1', 0)).toBe(true);
    expect(recent.takeFirst('ann', 'e1', 10)).toBe(false);
    expect(recent.takeFirst('bob', 'e1', 10)).toBe(true);
    expect(recent.takeFirst('ann', 'e2', 10)).toBe(true);
    expect(recent.size).toBe(3);
  });

  it('remembers an event for the window of record time, and forgets it once a newer record is a window past it', () => {
    const recent = new RecentEvents(options);
    recent.takeFirst('ann', 'e1', 0);
    recent.takeFirst('bob', 'e2', 23 * HOUR);
    expect(recent.takeFirst('ann', 'e1', 23 * HOUR)).toBe(false);
    // Its generation's newest is a window and a quarter old at most when it goes.
    recent.takeFirst('cy', 'e3', 31 * HOUR);
    expect(recent.takeFirst('ann', 'e1', 31 * HOUR)).toBe(true);
    expect(recent.takeFirst('bob', 'e2', 31 * HOUR)).toBe(false);
  });

  it('a record time behind the newest does not move the window back', () => {
    const recent = new RecentEvents(options);
    recent.takeFirst('ann', 'e1', 100 * HOUR);
    expect(recent.takeFirst('bob', 'e2', 0)).toBe(true);
    expect(recent.takeFirst('bob', 'e2', 100 * HOUR)).toBe(false);
  });

  it('past maxEvents, the oldest generation goes early and says so', () => {
    const recent = new RecentEvents(options);
    for (let i = 0; i < 1000; i++) recent.takeFirst('ann', `e${i}`, i);
    expect(recent.size).toBeLessThanOrEqual(options.maxEvents * 1.25);
    expect(recent.shortened).toBeGreaterThan(0);
    expect(recent.takeFirst('ann', 'e999', 1000)).toBe(false);
    expect(recent.takeFirst('ann', 'e0', 1000)).toBe(true);
  });

  it('finds each of many events again as its set grows', () => {
    const recent = new RecentEvents({ windowMs: HOUR, maxEvents: 100_000 });
    let first = 0;
    let again = 0;
    for (let i = 0; i < 20_000; i++) if (recent.takeFirst(`k${i % 97}`, `e${i}`, 0)) first += 1;
    for (let i = 0; i < 20_000; i++) if (recent.takeFirst(`k${i % 97}`, `e${i}`, 0)) again += 1;
    expect([first, again]).toEqual([20_000, 0]);
  });

  it('its records restore what it remembered, and the records of a generation that went are named for removal', () => {
    const recent = new RecentEvents(options);
    const written = new Map<number, RecentEventsRecord>();
    const apply = (): void => {
      const { records, expired } = recent.takeChanges();
      for (const seq of expired) written.delete(seq);
      for (const r of records) written.set(r.seq, r);
    };
    for (let i = 0; i < 50; i++) recent.takeFirst('ann', `early${i}`, i * HOUR);
    apply();
    for (let i = 0; i < 20; i++) recent.takeFirst('bob', `late${i}`, 50 * HOUR);
    apply();
    const restored = new RecentEvents(options, written.values());
    expect(restored.size).toBe(recent.size);
    expect(restored.takeFirst('bob', 'late3', 50 * HOUR)).toBe(false);
    expect(restored.takeFirst('ann', 'early49', 50 * HOUR)).toBe(false);
    expect(restored.takeFirst('ann', 'early0', 50 * HOUR)).toBe(true); // gone with its generation
    // What the records hold is what it remembers: those of the generations that went were removed.
    expect([...written.values()].reduce((n, r) => n + r.events.length / 12, 0)).toBe(recent.size);
    // New records do not take the places of restored ones.
    const next = restored.takeChanges().records;
    expect(next.every((r) => !written.has(r.seq))).toBe(true);
  });

  it("writes a large batch as several records, each as small as the changelog's other records (64 KB)", () => {
    const recent = new RecentEvents({ windowMs: HOUR, maxEvents: 1_000_000 });
    for (let i = 0; i < 100_000; i++) recent.takeFirst('ann', `e${i}`, 0);
    const { records } = recent.takeChanges();
    expect(records.length).toBeGreaterThan(1);
    for (const r of records) expect(JSON.stringify(r).length).toBeLessThan(64 * 1024);
    expect(records.reduce((n, r) => n + r.events.length / 12, 0)).toBe(100_000);
    const restored = new RecentEvents({ windowMs: HOUR, maxEvents: 1_000_000 }, records);
    expect(restored.takeFirst('ann', 'e77777', 0)).toBe(false);
  });
});
