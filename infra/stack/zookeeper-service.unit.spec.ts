import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fourLetterWord, healthFromSrvr, zooCfg, zookeeperService } from './zookeeper-service';

/** What ZooKeeper 3.8.6 answers to `srvr` (copied from a real standalone server). */
const SRVR = `Zookeeper version: 3.8.6-6df26081269769c160c8c3a24929c60c91cd19c3, built on 2026-01-28 20:28 UTC
Latency min/avg/max: 0/0.0/0
Received: 2
Sent: 1
Connections: 1
Outstanding: 0
Zxid: 0x0
Mode: standalone
Node count: 5
`;

/** A TCP server that answers each connection with `answer` (or per word) and closes, as ZooKeeper does. */
async function fourLetterServer(answer: (word: string) => string): Promise<{
  port: number;
  close: () => Promise<void>;
}> {
  const server = net.createServer((socket) => {
    socket.once('data', (word: Buffer) => socket.end(answer(word.toString('utf8'))));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('zoo.cfg', () => {
  it('is one standalone server on 127.0.0.1 with no admin server and only the words the probe uses', () => {
    const cfg = Object.fromEntries(
      zooCfg({ port: 22181, dataDir: '/h/zookeeper/data' })
        .split('\n')
        .filter((l) => l.includes('=') && !l.startsWith('#'))
        .map((l) => l.split('=') as [string, string]),
    );
    expect(cfg).toMatchObject({
      tickTime: '2000',
      dataDir: '/h/zookeeper/data',
      clientPort: '22181',
      clientPortAddress: '127.0.0.1',
      'admin.enableServer': 'false',
      '4lw.commands.whitelist': 'ruok,srvr,mntr',
    });
    expect(cfg).not.toHaveProperty('server.1');
  });
});

describe('healthFromSrvr', () => {
  it('reads the version and the mode of a serving server', () => {
    expect(healthFromSrvr(SRVR)).toEqual({ healthy: true, version: '3.8.6', detail: 'standalone, 5 znodes' });
  });

  it('is unhealthy while the server does not serve, and says why', () => {
    expect(healthFromSrvr('This ZooKeeper instance is not currently serving requests\n')).toEqual({
      healthy: false,
      detail: 'This ZooKeeper instance is not currently serving requests',
    });
    expect(healthFromSrvr('')).toEqual({ healthy: false, detail: 'no answer to srvr' });
  });
});

describe('the ZooKeeper probe', () => {
  it('sends a four-letter word and reads the answer until the server closes', async () => {
    const server = await fourLetterServer((word) => (word === 'ruok' ? 'imok' : SRVR));
    try {
      expect(await fourLetterWord(server.port, 'ruok', 1000)).toBe('imok');
      const service = zookeeperService('/h', { port: server.port });
      expect(await service.probe()).toEqual({
        healthy: true,
        version: '3.8.6',
        detail: 'standalone, 5 znodes',
      });
    } finally {
      await server.close();
    }
  });

  it('reports a port where nothing listens as unhealthy', async () => {
    const server = await fourLetterServer(() => '');
    const port = server.port;
    await server.close();
    expect(await zookeeperService('/h', { port }).probe()).toMatchObject({ healthy: false });
  });
});

describe('zookeeperService', () => {
  it('is one service named zookeeper in <home>/zookeeper on the port asked', () => {
    expect(zookeeperService('/h', { port: 2181 })).toMatchObject({
      kind: 'zookeeper',
      name: 'zookeeper',
      address: '127.0.0.1:2181',
      ports: [2181],
      pidFile: path.join('/h', 'zookeeper', 'zookeeper.pid'),
    });
  });
});
