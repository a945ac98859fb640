import { replicationFor, specForCluster, TOPICS } from './topics';

describe('replication follows the cluster', () => {
  it('one copy per broker up to three; two acknowledgements from three brokers on', () => {
    expect([1, 2, 3, 5].map(replicationFor)).toEqual([
      { replicationFactor: 1, minInsyncReplicas: 1 },
      { replicationFactor: 2, minInsyncReplicas: 1 },
      { replicationFactor: 3, minInsyncReplicas: 2 },
      { replicationFactor: 3, minInsyncReplicas: 2 },
    ]);
  });

  it("gives every topic of ciclo's its replication, keeping the rest of its config", () => {
    const spec = specForCluster(TOPICS.touchpoints, 3);
    expect(spec.replicationFactor).toBe(3);
    expect(spec.config).toEqual({ ...TOPICS.touchpoints.config, 'min.insync.replicas': '2' });
    expect(specForCluster(TOPICS.customerSnapshots, 1)).toMatchObject({
      replicationFactor: 1,
      config: { 'cleanup.policy': 'compact', 'min.insync.replicas': '1' },
    });
  });

  it('leaves a spec that fixes its own replication as it is', () => {
    const own = { name: 't', partitions: 1, replicationFactor: 1 };
    expect(specForCluster(own, 3)).toBe(own);
  });
});
