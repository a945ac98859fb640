/** What an integration test uses to reach the provisioned services. */
import { loadConfig, type CicloConfig } from '../../infra/config';
import path from 'node:path';

export function testConfig(): CicloConfig {
  return loadConfig(process.env, path.resolve(__dirname, '..', '..'));
}

/** A unique name per test run, so tests never share topics, groups or tables. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Polls until the probe returns a value, or fails after the deadline with what it last saw. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `${what} not reached in ${timeoutMs} ms${last instanceof Error ? `: ${last.message}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}
