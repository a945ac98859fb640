/** What the long-running commands (collect, dashboard, demo --serve) share: port options and stopping. */
import { CicloError } from '../infra/errors';

export function parsePort(raw: string, flag = '--port'): number {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new CicloError('CONFIG_INVALID', `${flag} must be a port number (0-65535), got "${raw}"`);
  return port;
}

/** Resolves with the first of these signals; the listeners are removed, so a second Ctrl-C kills. */
export function untilSignal(signals: readonly NodeJS.Signals[]): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      for (const s of signals) process.off(s, onSignal);
      resolve(signal);
    };
    for (const s of signals) process.on(s, onSignal);
  });
}
