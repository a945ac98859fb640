import { durabilityFindings } from './durability';

describe('durability findings', () => {
  const topic = (name: string, replicationFactor: number, minInsyncReplicas: number) => ({
    name,
    replicationFactor,
    minInsyncReplicas,
  });

  it('finds nothing wrong with one copy on one broker, or three copies and two in sync on three', () => {
    expect(durabilityFindings(1, [topic('ciclo.touchpoints', 1, 1)])).toEqual([]);
    expect(
      durabilityFindings(3, [topic('ciclo.touchpoints', 3, 2), topic('__transaction_state', 3, 2)]),
    ).toEqual([]);
    expect(durabilityFindings(5, [topic('ciclo.touchpoints', 3, 2)])).toEqual([]);
  });

  it('warns of one copy on a cluster, and of acknowledgement by one copy of three', () => {
    expect(durabilityFindings(3, [topic('ciclo.touchpoints', 1, 1)])).toEqual([
      expect.objectContaining({ severity: 'warn', topic: 'ciclo.touchpoints' }),
    ]);
    const [weak] = durabilityFindings(3, [topic('__transaction_state', 3, 1)]);
    expect(weak).toMatchObject({ severity: 'warn', topic: '__transaction_state' });
    expect(weak!.message).toContain('min.insync.replicas=2');
  });

  it('refuses what fails every write: more in sync than copies, more copies than brokers', () => {
    expect(durabilityFindings(3, [topic('ciclo.stage-changes', 2, 3)])).toEqual([
      expect.objectContaining({ severity: 'refuse', topic: 'ciclo.stage-changes' }),
    ]);
    expect(durabilityFindings(1, [topic('ciclo.touchpoints', 3, 2)])[0]).toMatchObject({
      severity: 'refuse',
    });
  });
});
