export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __cicloRelease?: () => Promise<void> }).__cicloRelease?.();
}
