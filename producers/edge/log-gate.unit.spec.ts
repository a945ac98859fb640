import { createLogGate } from './log-gate';

describe('a log gate', () => {
  it('passes the first line, then one per interval with how many were held back', () => {
    const gate = createLogGate(10_000);
    const t0 = 1_000_000;
    expect(gate.pass(t0)).toEqual({ log: true, suppressed: 0 });
    for (let i = 1; i <= 500; i++) expect(gate.pass(t0 + i)).toEqual({ log: false });
    expect(gate.pass(t0 + 10_000)).toEqual({ log: true, suppressed: 500 });
    expect(gate.pass(t0 + 10_001)).toEqual({ log: false });
  });
});
