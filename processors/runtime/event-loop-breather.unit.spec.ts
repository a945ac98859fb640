import { eventLoopBreather } from './event-loop-breather';

describe('an event loop breather', () => {
  it('waits for the event loop once the interval has passed, and only then', async () => {
    let clock = 0;
    const breathe = eventLoopBreather({ everyMs: 50, checkEvery: 256, now: () => clock });
    const ran: number[] = [];
    setImmediate(() => ran.push(clock));
    for (let i = 0; i < 1000; i++) await breathe(); // within the interval: promises only
    expect(ran).toEqual([]);
    clock = 60;
    for (let i = 0; i < 256; i++) await breathe();
    expect(ran).toEqual([60]);
  });

  it('reads the clock at every call unless told otherwise', async () => {
    let clock = 0;
    const breathe = eventLoopBreather({ everyMs: 50, now: () => clock });
    const ran: number[] = [];
    setImmediate(() => ran.push(clock));
    await breathe();
    expect(ran).toEqual([]);
    clock = 50;
    await breathe();
    expect(ran).toEqual([50]);
  });

  it('refuses a clock reading cadence that is not a power of two', () => {
    expect(() => eventLoopBreather({ everyMs: 50, checkEvery: 100 })).toThrow('power of two');
  });
});
