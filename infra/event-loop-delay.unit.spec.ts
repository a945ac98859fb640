import { watchEventLoopDelay } from './event-loop-delay';

const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('watching the event loop delay', () => {
  it('reports a hold of the loop, in milliseconds', async () => {
    const watch = watchEventLoopDelay();
    await tick(30);
    const until = performance.now() + 250;
    while (performance.now() < until); // holds the loop for 250 ms
    await tick(30);
    const longest = watch.stop();
    expect(longest).toBeGreaterThanOrEqual(200);
    expect(watch.stop()).toBe(longest); // stopped: a second stop reads the same
  });
});
