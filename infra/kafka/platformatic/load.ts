/**
 * Loads @platformatic/kafka, an ES module (ciclo compiles to CommonJS, so it is imported at run time) that
 * needs Node >= 22.22 (its engines field: ">= 22.22.0 || >= 24.6.0"). A devDependency for now: only
 * `bench/kafka-clients.ts` uses it, to measure it against the patched kafkajs (issue 24, part 3).
 */
import type * as Platformatic from '@platformatic/kafka' with { 'resolution-mode': 'import' };
import { CicloError } from '../../errors';

export type PlatformaticKafka = typeof Platformatic;

/** The oldest Node @platformatic/kafka 2.12 supports. */
export const PLATFORMATIC_MIN_NODE: readonly [number, number] = [22, 22];

/** Whether a Node version (`process.versions.node`) can run @platformatic/kafka. */
export function nodeRunsPlatformatic(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const [wantMajor, wantMinor] = PLATFORMATIC_MIN_NODE;
  return major > wantMajor || (major === wantMajor && minor >= wantMinor);
}

let loaded: Promise<PlatformaticKafka> | undefined;

/** The module, imported once; CONFIG_INVALID on a Node too old for it. */
export function loadPlatformatic(): Promise<PlatformaticKafka> {
  if (!nodeRunsPlatformatic(process.versions.node))
    return Promise.reject(
      new CicloError(
        'CONFIG_INVALID',
        `@platformatic/kafka needs Node >= ${PLATFORMATIC_MIN_NODE.join('.')}; this is Node ${process.versions.node} ` +
          '(run it with `npx -p node@24 node ...`)',
      ),
    );
  loaded ??= import('@platformatic/kafka');
  return loaded;
}
