import { stopTestClusterInCi } from '../support/cluster';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __cicloRelease?: () => Promise<void> }).__cicloRelease?.();
  await stopTestClusterInCi();
}
