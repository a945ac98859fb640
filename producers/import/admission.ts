/**
 * What an import run lets through of its touchpoints (infra/privacy/personal-data.ts): ids as ciclo keeps
 * them (an email sent as an id becomes its email id) and nothing of a forgotten person, whose touchpoints it
 * counts for the run's report. Applied before records are made: a record's key is its touchpoint's id.
 */
import type { TouchpointPrivacy } from '../../infra/privacy/personal-data';
import type { Touchpoint } from '../../schemas/touchpoint';

export class Admission {
  /** Touchpoints of forgotten people dropped so far in this run. */
  suppressed = 0;

  constructor(private readonly privacy?: Pick<TouchpointPrivacy, 'keptIds' | 'isSuppressed'>) {}

  admit(touchpoints: Touchpoint[]): Touchpoint[] {
    const privacy = this.privacy;
    if (!privacy) return touchpoints;
    const kept = touchpoints.map((tp) => privacy.keptIds(tp)).filter((tp) => !privacy.isSuppressed(tp));
    this.suppressed += touchpoints.length - kept.length;
    return kept;
  }
}
