/**
 * The main job as users run it: `ciclo demo` through the real collector, processor, projector and
 * ClickHouse prints its summary, and a second run with the same seed adds nothing (every event id repeats),
 * so its summary is the same.
 */
import { runCiclo } from './support/cli';

const summaryOf = (stdout: string): string => {
  const from = stdout.indexOf('Customers per stage');
  const to = stdout.indexOf('\ndone in');
  return stdout.slice(from, to);
};

describe('ciclo demo', () => {
  it('runs the whole pipeline and prints its summary; a second run changes nothing', async () => {
    const seed = String(900_000 + Math.floor(Math.random() * 90_000));
    const args = ['demo', '--customers', '300', '--seed', seed];
    const first = await runCiclo(args, { timeoutMs: 300_000 });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    for (const section of [
      '300 visitors',
      'touchpoints accepted by the collector',
      'P(alive) scores sent to the processor',
      'Customers per stage (five-stage model):',
      'Cohort retention',
      'CAC, ROI and CLV:CAC by acquisition channel:',
      'Top at-risk customers',
    ])
      expect(first.stdout).toContain(section);
    expect(summaryOf(first.stdout).length).toBeGreaterThan(200);

    const second = await runCiclo(args, { timeoutMs: 300_000 });
    expect(second.code).toBe(0);
    expect(summaryOf(second.stdout)).toBe(summaryOf(first.stdout));
  }, 600_000);
});
