/**
 * A person's ids as ClickHouse knows them, for `ciclo forget`. Reads touchpoints (Identified, Aliased) and
 * customer_state's removal rows of ciclo's database; writes nothing. From one id, every id linked to it, to a
 * fixpoint: the customer it was merged into and every id merged into that customer (customer_state's
 * merged_into, migration 003), the anonymous ids its Identified calls joined, the previousIds of its aliases
 * and the customers that aliased it, and the email-derived id (`email:...`, schemas/pseudonym.ts) of every
 * email its Identified calls carried. Also the emails and names found, for the caller's report.
 *
 * Not followed: two customers who identified with the same email are two people, as the processor sees them.
 */
import type { ClickHouseEngine } from '../../infra/clickhouse/engine';
import { CicloError } from '../../infra/errors';
import { FORGET_IDS_LIMIT } from '../../schemas/forget';
import {
  chunksOf,
  columnsQuery,
  linkedTo,
  linkRowsQuery,
  mergeRowsQuery,
  type ColumnRow,
  type Linked,
  type LinkRow,
  type MergeRow,
} from './statements';

export interface PersonIds {
  /** The id asked for first, then every id linked to it, in the order found. */
  readonly ids: readonly string[];
  /** Emails of the person's Identified calls, as sent (one per normalized email). */
  readonly emails: readonly string[];
  /** Names of the person's Identified calls. */
  readonly names: readonly string[];
  /** Rounds of lookups until nothing new was found. */
  readonly rounds: number;
}

export interface PersonIdLimits {
  /** Rounds of lookups before giving up (a chain of links this long is not one person's). */
  readonly maxRounds: number;
  /** Ids before giving up: a forget marker carries at most FORGET_IDS_LIMIT (schemas/forget.ts). */
  readonly maxIds: number;
}

export const PERSON_ID_LIMITS: PersonIdLimits = { maxRounds: 20, maxIds: FORGET_IDS_LIMIT };

/** Looks up what is linked to some ids (the new ones of a round). */
export type LinkLookup = (ids: readonly string[]) => Promise<Linked>;

/**
 * The fixpoint: each round looks up the ids found in the previous one, until a round finds nothing new.
 * Pure but for the lookup passed in. Past the limits it throws rather than erase what may be many people
 * (an id shared by everyone, such as a test account aliased into every customer).
 */
export async function closePersonIds(
  id: string,
  lookup: LinkLookup,
  emailIdOf: (email: string) => string,
  limits: PersonIdLimits = PERSON_ID_LIMITS,
): Promise<PersonIds> {
  if (id === '') throw new CicloError('CONFIG_INVALID', 'the id of the person to forget is empty');
  const ids = new Set<string>([id]);
  const emails = new Map<string, string>();
  const names = new Set<string>();
  let frontier = [id];
  let rounds = 0;
  while (frontier.length > 0) {
    if (rounds === limits.maxRounds)
      throw new CicloError(
        'DATA_CONFLICT',
        `the ids linked to "${id}" did not settle in ${limits.maxRounds} rounds (${ids.size} ids so far): refusing to erase what may be more than one person`,
      );
    rounds++;
    const found = await lookup(frontier);
    const next: string[] = [];
    const add = (candidate: string): void => {
      if (candidate === '' || ids.has(candidate)) return;
      ids.add(candidate);
      next.push(candidate);
      if (ids.size > limits.maxIds)
        throw new CicloError(
          'DATA_CONFLICT',
          `more than ${limits.maxIds} ids are linked to "${id}": refusing to erase what may be more than one person`,
        );
    };
    for (const linked of found.ids) add(linked);
    for (const email of found.emails) {
      const key = email.trim().toLowerCase();
      if (!emails.has(key)) emails.set(key, email);
      add(emailIdOf(email));
    }
    for (const name of found.names) names.add(name);
    frontier = next;
  }
  return { ids: [...ids], emails: [...emails.values()], names: [...names], rounds };
}

/**
 * The person's ids in `database`, from `id`. `emailIdOf` maps an email to its id: the caller passes
 * `(email) => emailAnonymousId(secret, email)` (schemas/pseudonym.ts). A database without touchpoints or
 * customer_state (not migrated) has no links: the id alone is returned.
 */
export async function findPersonIds(
  client: Pick<ClickHouseEngine, 'query'>,
  database: string,
  id: string,
  emailIdOf: (email: string) => string,
  limits: PersonIdLimits = PERSON_ID_LIMITS,
): Promise<PersonIds> {
  const columns = await client.query<ColumnRow>(columnsQuery(database));
  const has = (table: string, column: string): boolean =>
    columns.some((c) => c.table === table && c.name === column);
  const readsLinks = has('touchpoints', 'payload') && has('touchpoints', 'anonymous_id');
  const readsMerges = has('customer_state', 'merged_into');
  const lookup: LinkLookup = async (frontier) => {
    const of = new Set(frontier);
    const found: Linked[] = [];
    for (const chunk of chunksOf(frontier)) {
      const links = readsLinks ? await client.query<LinkRow>(linkRowsQuery(database, chunk)) : [];
      const merges = readsMerges ? await client.query<MergeRow>(mergeRowsQuery(database, chunk)) : [];
      found.push(linkedTo(of, links, merges));
    }
    return {
      ids: found.flatMap((f) => f.ids),
      emails: found.flatMap((f) => f.emails),
      names: found.flatMap((f) => f.names),
    };
  };
  return closePersonIds(id, lookup, emailIdOf, limits);
}
