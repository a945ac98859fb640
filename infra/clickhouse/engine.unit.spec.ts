import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClickHouseError } from '@clickhouse/client';
import { freePort } from '../stack/processes';
import { connectClickHouseServer, failoverOver, isConnectionFailure } from './engine';

const sysError = (code: string, message = `connect ${code} 127.0.0.1:8123`): Error =>
  Object.assign(new Error(message), { code });

describe('isConnectionFailure', () => {
  it('takes the socket-level failures Node and @clickhouse/client report', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH'])
      expect(isConnectionFailure(sysError(code))).toBe(true);
    expect(isConnectionFailure(new Error('Timeout error.'))).toBe(true);
    expect(isConnectionFailure(new Error('socket hang up'))).toBe(true);
    expect(isConnectionFailure(new AggregateError([sysError('ECONNREFUSED')]))).toBe(true);
    expect(isConnectionFailure(new Error('insert failed', { cause: sysError('ECONNRESET') }))).toBe(true);
  });

  it('never takes an answer of the server: a SQL error of 18.16 or of a modern server', () => {
    // 18.16 words its errors so that the client does not parse them into a ClickHouseError.
    expect(
      isConnectionFailure(new Error("Code: 60, e.displayText() = DB::Exception: Table d.t doesn't exist")),
    ).toBe(false);
    expect(
      isConnectionFailure(new ClickHouseError({ code: '60', type: 'UNKNOWN_TABLE', message: 'no table' })),
    ).toBe(false);
    // A query about timeouts is not a timeout.
    expect(isConnectionFailure(new Error('Code: 159, Timeout error. exceeded'))).toBe(false);
    expect(isConnectionFailure(undefined)).toBe(false);
    expect(isConnectionFailure('ECONNREFUSED')).toBe(false);
  });
});

describe('failoverOver', () => {
  /** Targets that fail with the error given for them, or answer their own name. */
  function targets(failures: Record<string, Error>) {
    const calls: string[] = [];
    const call = (name: string): Promise<string> => {
      calls.push(name);
      const failure = failures[name];
      return failure ? Promise.reject(failure) : Promise.resolve(name);
    };
    return { calls, call };
  }

  it('given the first target reachable, asks only it', async () => {
    const { calls, call } = targets({});
    const replicas = failoverOver(['a', 'b', 'c']);
    expect(await replicas.run(call)).toBe('a');
    expect(calls).toEqual(['a']);
  });

  it('given the first unreachable, tries the next, and sticks to the one that answered', async () => {
    const failures: Record<string, Error> = { a: sysError('ECONNREFUSED') };
    const { calls, call } = targets(failures);
    const replicas = failoverOver(['a', 'b', 'c']);
    expect(await replicas.run(call)).toBe('b');
    expect(replicas.current).toBe('b');
    delete failures.a; // a is back; b still answers, so calls stay on b
    expect(await replicas.run(call)).toBe('b');
    expect(calls).toEqual(['a', 'b', 'b']);
  });

  it('wraps around from the sticky target to the ones before it', async () => {
    const failures: Record<string, Error> = { a: sysError('ECONNREFUSED') };
    const { calls, call } = targets(failures);
    const replicas = failoverOver(['a', 'b', 'c']);
    await replicas.run(call); // sticks to b
    delete failures.a;
    failures.b = new Error('socket hang up');
    failures.c = new Error('Timeout error.');
    expect(await replicas.run(call)).toBe('a');
    expect(calls).toEqual(['a', 'b', 'b', 'c', 'a']);
    expect(replicas.current).toBe('a');
  });

  it('throws a SQL error at once, without asking another target', async () => {
    const sqlError = new Error('Code: 62, e.displayText() = DB::Exception: Syntax error');
    const { calls, call } = targets({ a: sqlError });
    const replicas = failoverOver(['a', 'b']);
    await expect(replicas.run(call)).rejects.toBe(sqlError);
    expect(calls).toEqual(['a']);
    expect(replicas.current).toBe('a');
  });

  it("given every target unreachable, tries each once and throws the current target's error", async () => {
    const first = new Error('Timeout error.');
    const { calls, call } = targets({ a: first, b: sysError('ECONNREFUSED') });
    const replicas = failoverOver(['a', 'b']);
    await expect(replicas.run(call)).rejects.toBe(first);
    expect(calls).toEqual(['a', 'b']);
    expect(replicas.current).toBe('a');
  });

  it('throws a SQL error met on a later target as it came', async () => {
    const sqlError = new Error("Code: 60, e.displayText() = DB::Exception: Table d.t doesn't exist");
    const { calls, call } = targets({ a: sysError('ECONNREFUSED'), b: sqlError });
    await expect(failoverOver(['a', 'b', 'c']).run(call)).rejects.toBe(sqlError);
    expect(calls).toEqual(['a', 'b']);
  });

  it('with one target, is the plain call', async () => {
    const refused = sysError('ECONNREFUSED');
    const { calls, call } = targets({ a: refused });
    await expect(failoverOver(['a']).run(call)).rejects.toBe(refused);
    expect(calls).toEqual(['a']);
  });
});

describe('connectClickHouseServer over several URLs', () => {
  /** An HTTP server that answers every request with 200 and counts them, as a ClickHouse would a command. */
  async function answering(): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
    let requests = 0;
    const server = http.createServer((req, res) => {
      requests++;
      req.resume();
      req.on('end', () => res.end(''));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      requests: () => requests,
      close: () => new Promise((resolve) => server.close(() => resolve())),
    };
  }

  it('names every URL without passwords, and moves on from one where nothing listens', async () => {
    const live = await answering();
    const deadUrl = `http://default:s3cret@127.0.0.1:${await freePort()}`;
    const engine = connectClickHouseServer({ url: deadUrl, urls: [deadUrl, live.url] });
    try {
      expect(engine.name).toBe(`server http://default:***@127.0.0.1:${new URL(deadUrl).port}/, ${live.url}`);
      const before = engine.client;
      await engine.command('SELECT 1');
      await engine.command('SELECT 1');
      expect(live.requests()).toBe(2);
      expect(engine.client).not.toBe(before); // sticks to the live one
    } finally {
      await engine.close();
      await live.close();
    }
  });
});
