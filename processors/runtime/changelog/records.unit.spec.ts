import type { IdentityMessage } from '../../domain/identity';
import { readIdentityMessage } from './records';

describe('identity messages read back', () => {
  it("keep a progress's unset clocks (-Infinity, which JSON writes as null)", () => {
    // A partition that has routed nothing yet announces the import lanes it saw: its clocks are unset.
    const sent: IdentityMessage = {
      kind: 'progress',
      partition: 2,
      to: 0,
      upTo: -Infinity,
      newest: -Infinity,
      handedUpTo: -Infinity,
      lanes: { 'import-20261206T070221Z-rao27m': 1737350428269 },
    };
    const json = JSON.stringify(sent);
    expect(json).toContain('"upTo":null');
    expect(readIdentityMessage(json, { partition: 0, key: 'identity@0' })).toEqual(sent);
  });
});
