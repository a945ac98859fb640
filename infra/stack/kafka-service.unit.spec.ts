import { kafkaServerProperties } from './kafka-service';

const nodes = [
  { nodeId: 1, port: 9092, controllerPort: 9093 },
  { nodeId: 2, port: 9094, controllerPort: 9095 },
  { nodeId: 3, port: 9096, controllerPort: 9097 },
];

function properties(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.includes('=') && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

describe('Kafka server.properties', () => {
  it('makes one node its own quorum, with internal topics of one copy', () => {
    const p = properties(
      kafkaServerProperties({
        nodeId: 1,
        port: 9092,
        controllerPort: 9093,
        voters: [nodes[0]!],
        dataDir: '/d',
      }),
    );
    expect(p['controller.quorum.voters']).toBe('1@127.0.0.1:9093');
    expect(p['offsets.topic.replication.factor']).toBe('1');
    expect(p['transaction.state.log.min.isr']).toBe('1');
  });

  it('puts every node of three in the quorum and keeps internal topics in three copies, two in sync', () => {
    const p = properties(
      kafkaServerProperties({ nodeId: 2, port: 9094, controllerPort: 9095, voters: nodes, dataDir: '/d/2' }),
    );
    expect(p['node.id']).toBe('2');
    expect(p['controller.quorum.voters']).toBe('1@127.0.0.1:9093,2@127.0.0.1:9095,3@127.0.0.1:9097');
    expect(p.listeners).toBe('PLAINTEXT://127.0.0.1:9094,CONTROLLER://127.0.0.1:9095');
    expect(p['advertised.listeners']).toBe('PLAINTEXT://127.0.0.1:9094');
    for (const key of [
      'offsets.topic.replication.factor',
      'transaction.state.log.replication.factor',
      'share.coordinator.state.topic.replication.factor',
      'default.replication.factor',
    ])
      expect(p[key]).toBe('3');
    for (const key of [
      'transaction.state.log.min.isr',
      'share.coordinator.state.topic.min.isr',
      'min.insync.replicas',
    ])
      expect(p[key]).toBe('2');
    expect(p['unclean.leader.election.enable']).toBe('false');
    expect(p['log.dirs']).toBe('/d/2');
  });
});
