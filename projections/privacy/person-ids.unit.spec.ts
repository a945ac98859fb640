import { CicloError } from '../../infra/errors';
import { emailAnonymousId } from '../../schemas/pseudonym';
import { closePersonIds, type LinkLookup } from './person-ids';

const secret = Buffer.alloc(32, 7);
const emailIdOf = (email: string): string => emailAnonymousId(secret, email);

/** A lookup over an undirected graph of ids, with traits per id, that records what it was asked. */
function graph(
  edges: readonly (readonly [string, string])[],
  traits: Record<string, { emails?: string[]; names?: string[] }> = {},
): LinkLookup & { asked: string[][] } {
  const asked: string[][] = [];
  const lookup = (ids: readonly string[]) => {
    asked.push([...ids]);
    const of = new Set(ids);
    return Promise.resolve({
      ids: edges.filter(([a, b]) => of.has(a) || of.has(b)).flat(),
      emails: ids.flatMap((id) => traits[id]?.emails ?? []),
      names: ids.flatMap((id) => traits[id]?.names ?? []),
    });
  };
  return Object.assign(lookup, { asked });
}

describe('closePersonIds: every id linked to one, to a fixpoint', () => {
  it('given a merged id, finds its customer, every id merged into it and the email-derived id', async () => {
    const emailId = emailIdOf('ana@example.org');
    const lookup = graph(
      [
        ['anon1', 'cust-ana'], // identified
        ['anon2', 'cust-ana'], // another browser
        ['cust-ana-old', 'cust-ana'], // aliased
        [emailId, 'sendgrid-only'], // a provider's id joined to the email id later
      ],
      {
        'cust-ana': { emails: ['Ana@Example.org ', 'ana@example.org'], names: ['Ana Lindqvist'] },
        anon2: { names: ['Ana Lindqvist'] },
      },
    );
    const found = await closePersonIds('anon1', lookup, emailIdOf);
    expect(found.ids).toEqual(['anon1', 'cust-ana', 'anon2', 'cust-ana-old', emailId, 'sendgrid-only']);
    expect(found.emails).toEqual(['Ana@Example.org ']);
    expect(found.names).toEqual(['Ana Lindqvist']);
    // Each round asks only for the ids the previous one found.
    expect(lookup.asked).toEqual([
      ['anon1'],
      ['cust-ana'],
      ['anon2', 'cust-ana-old', emailId],
      ['sendgrid-only'],
    ]);
    expect(found.rounds).toBe(4);
  });

  it('returns the id alone when nothing links to it', async () => {
    expect(await closePersonIds('nobody', graph([]), emailIdOf)).toEqual({
      ids: ['nobody'],
      emails: [],
      names: [],
      rounds: 1,
    });
  });

  it('refuses an id that links to more ids than one person has', async () => {
    const star = graph(Array.from({ length: 30 }, (_, i) => ['test-account', `c${i}`] as const));
    await expect(closePersonIds('c0', star, emailIdOf, { maxRounds: 20, maxIds: 10 })).rejects.toThrow(
      'more than 10 ids are linked to "c0"',
    );
  });

  it('refuses a chain that does not settle within the rounds', async () => {
    const chain = graph(Array.from({ length: 30 }, (_, i) => [`c${i}`, `c${i + 1}`] as const));
    const run = closePersonIds('c0', chain, emailIdOf, { maxRounds: 5, maxIds: 10_000 });
    await expect(run).rejects.toThrow(CicloError);
    await expect(closePersonIds('c0', chain, emailIdOf, { maxRounds: 5, maxIds: 10_000 })).rejects.toThrow(
      'did not settle in 5 rounds',
    );
  });

  it('refuses an empty id', async () => {
    await expect(closePersonIds('', graph([]), emailIdOf)).rejects.toThrow(CicloError);
  });
});
