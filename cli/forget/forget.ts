/**
 * `ciclo forget <id>`: erases a person everywhere ciclo keeps them (README, Privacy). In this order, each
 * step safe to repeat:
 * 1. The person's ids: the id given (an email: its email id, as ciclo keeps it), the ids ClickHouse links to
 *    it (projections/privacy: merges, identify calls, aliases, the email-derived ids of their emails).
 * 2. Their pseudonyms go on the suppression list (infra/privacy/suppression.ts): from then on the collector,
 *    webhooks, imports and the projector drop anything of theirs.
 * 3. A forget marker goes to every partition of the touchpoint topic (schemas/forget.ts): each processor
 *    erases the person's state, snapshots and changelog in the transaction that commits the marker; the
 *    projector drops what comes for them after it.
 * 4. Their keys are tombstoned (infra/privacy/key-ring.ts): what they sealed on any topic no longer opens.
 * 5. It waits until every running processor and projector has passed the marker (their groups' committed
 *    offsets), and the projector has passed every stage change and snapshot written until then.
 * 6. ClickHouse asks again (the projector may have written links since 1.); new ids go through 2-5.
 * 7. The person's rows are deleted from every ClickHouse table (projections/privacy/erase.ts).
 * A consumer group with no member cannot be waited for: it applies the marker when it runs again, and the
 * report says so (complete: false).
 */
import { randomBytes } from 'node:crypto';
import type { ClickHouseEngine } from '../../infra/clickhouse/engine';
import { CicloError } from '../../infra/errors';
import type { TopicAdmin } from '../../infra/kafka/admin';
import type { MessageProducer } from '../../infra/kafka/producer';
import type { PrivacyConnection } from '../../infra/privacy/connect';
import { eraseFromClickHouse, findPersonIds, type Erasure, type PersonIds } from '../../projections/privacy';
import { FORGET_KEY, forgetMarkerHeaders } from '../../schemas/forget';
import { emailAnonymousId, isEmailLike, pseudonymOf } from '../../schemas/pseudonym';
import type { TOPICS } from '../../schemas/topics';

export interface ForgetDeps {
  readonly admin: TopicAdmin;
  readonly producer: MessageProducer;
  readonly privacy: PrivacyConnection;
  /** The person's ids as ClickHouse knows them, and the erase of their rows (projections/privacy). */
  readonly clickhouse: PersonStore;
  readonly secret: Buffer;
  readonly topics: typeof TOPICS;
  /** The consumer groups of the pipeline's processors and projector (by name, whether running or not). */
  readonly groups: { readonly processors: readonly string[]; readonly projector: string };
  /** How long to wait for the readers to pass the marker. */
  readonly waitMs: number;
  readonly now?: () => number;
  readonly progress?: (line: string) => void;
}

export interface PersonStore {
  findPersonIds(id: string, emailIdOf: (email: string) => string): Promise<PersonIds>;
  erase(ids: readonly string[]): Promise<Erasure>;
}

/** The person store of a ClickHouse database. */
export function clickHousePersonStore(
  client: Pick<ClickHouseEngine, 'query' | 'command'>,
  database: string,
): PersonStore {
  return {
    findPersonIds: (id, emailIdOf) => findPersonIds(client, database, id, emailIdOf),
    erase: (ids) => eraseFromClickHouse(client, database, ids),
  };
}

export interface ReaderProgress {
  readonly group: string;
  readonly role: 'processor' | 'projector';
  /** running: has members; done: passed the marker (and for the projector, what the processors wrote). */
  readonly running: boolean;
  readonly done: boolean;
}

export interface ForgetReport {
  readonly request: string;
  readonly id: string;
  /** Ids of the person (the id given included). */
  readonly ids: number;
  readonly emailsFound: number;
  readonly namesFound: number;
  /** Pseudonyms put on the suppression list (this run). */
  readonly suppressed: number;
  /** Forget markers written (one per touchpoint partition, per round). */
  readonly markers: number;
  readonly keysDestroyed: number;
  readonly readers: readonly ReaderProgress[];
  /** Rows deleted per ClickHouse table; undefined when the erase did not run. */
  readonly clickhouseRowsDeleted?: Readonly<Record<string, number>>;
  readonly clickhouseRowsScrubbed?: Readonly<Record<string, number>>;
  /** Whether everything is erased now; else `pending` says what is left and who will do it. */
  readonly complete: boolean;
  readonly pending: readonly string[];
}

const ROUNDS = 3;

/** The ids, emails and names of several lookups, each once, in the order found. */
function mergedPersonIds(all: readonly PersonIds[]): Pick<PersonIds, 'ids' | 'emails' | 'names'> {
  const union = (pick: (p: PersonIds) => readonly string[]): string[] => [...new Set(all.flatMap(pick))];
  return { ids: union((p) => p.ids), emails: union((p) => p.emails), names: union((p) => p.names) };
}

export function newForgetRequestId(now: number): string {
  const stamp = new Date(now)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `forget-${stamp}-${randomBytes(3).toString('hex')}`;
}

export async function forgetPerson(id: string, deps: ForgetDeps): Promise<ForgetReport> {
  const now = deps.now ?? Date.now;
  const say = deps.progress ?? ((): void => undefined);
  const request = newForgetRequestId(now());
  const emailIdOf = (email: string): string => emailAnonymousId(deps.secret, email);
  const known = new Set<string>();
  const emails = new Set<string>();
  const names = new Set<string>();
  let suppressed = 0;
  let markers = 0;
  let keysDestroyed = 0;
  let readers: ReaderProgress[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // An email is kept as its email id wherever ciclo wrote it as an id (schemas/pseudonym.ts keptId); data
    // written before that, under the address itself, is the same person's.
    const starts = isEmailLike(id) ? [emailIdOf(id), id] : [id];
    const found = mergedPersonIds(
      await Promise.all(starts.map((start) => deps.clickhouse.findPersonIds(start, emailIdOf))),
    );
    const ids = [...found.ids];
    found.emails.forEach((e) => emails.add(e));
    found.names.forEach((n) => names.add(n));
    const fresh = ids.filter((i) => !known.has(i));
    if (fresh.length === 0) break;
    fresh.forEach((i) => known.add(i));
    const pseudonyms = fresh.map((i) => pseudonymOf(deps.secret, i));
    say(`${request}: ${fresh.length} id(s) of the person ${round === 0 ? 'found' : 'found since'}`);
    await deps.privacy.suppression.add(pseudonyms, request, now());
    suppressed += pseudonyms.length;
    markers += await writeMarkers(deps, request, pseudonyms);
    keysDestroyed += await deps.privacy.keys.destroy(new Set(pseudonyms));
    say(`${request}: suppressed, ${markers} marker(s) written, ${keysDestroyed} key(s) destroyed`);
    readers = await waitForReaders(deps, say);
  }
  const pending: string[] = [];
  for (const r of readers)
    if (!r.done)
      pending.push(
        r.running
          ? `${r.role} group ${r.group} did not pass the marker within ${Math.round(deps.waitMs / 1000)} s: run the forget again`
          : r.role === 'processor'
            ? `processor group ${r.group} is not running: it erases the person when it runs again`
            : `projector group ${r.group} is not running: it drops what it reads of the person when it runs again`,
      );
  let erased: Erasure | undefined;
  if (readers.every((r) => r.done || !r.running)) {
    erased = await eraseWithRetry(deps, [...known]);
    say(`${request}: ClickHouse rows deleted: ${JSON.stringify(erased.deleted)}`);
  } else pending.push('ClickHouse was not erased yet, since a running reader could still write the person');
  return {
    request,
    id,
    ids: known.size,
    emailsFound: emails.size,
    namesFound: names.size,
    suppressed,
    markers,
    keysDestroyed,
    readers,
    ...(erased ? { clickhouseRowsDeleted: erased.deleted, clickhouseRowsScrubbed: erased.scrubbed } : {}),
    complete: pending.length === 0,
    pending,
  };
}

async function writeMarkers(
  deps: ForgetDeps,
  request: string,
  pseudonyms: readonly string[],
): Promise<number> {
  const topic = deps.topics.touchpoints.name;
  const partitions = (await deps.admin.partitionCounts([topic])).get(topic);
  if (partitions === undefined)
    throw new CicloError('CONFIG_INVALID', `topic ${topic} does not exist (run \`ciclo topics ensure\`)`);
  const headers = forgetMarkerHeaders({ request, pseudonyms });
  await deps.producer.send(
    topic,
    Array.from({ length: partitions }, (_, partition) => ({
      key: FORGET_KEY,
      value: null,
      headers,
      partition,
    })),
  );
  return partitions;
}

/**
 * Waits until each running reader's group has committed past `targets` on every partition of `topic`:
 * it has read (and, for a processor, erased in a committed transaction) everything written before.
 */
async function waitForReaders(deps: ForgetDeps, say: (line: string) => void): Promise<ReaderProgress[]> {
  const deadline = (deps.now ?? Date.now)() + deps.waitMs;
  const running = new Map(
    (await deps.admin.describeGroups([...deps.groups.processors, deps.groups.projector])).map((g) => [
      g.group,
      g.members > 0,
    ]),
  );
  const touchpoints = deps.topics.touchpoints.name;
  const markerEnds = await deps.admin.endOffsets(touchpoints);
  const progress: ReaderProgress[] = [];
  for (const group of deps.groups.processors) {
    const live = running.get(group) ?? false;
    const done = live && (await passed(deps, group, touchpoints, markerEnds, deadline));
    progress.push({ group, role: 'processor', running: live, done });
    if (live) say(`${group}: ${done ? 'erased the person' : 'did not pass the marker in time'}`);
  }
  const projector = deps.groups.projector;
  const live = running.get(projector) ?? false;
  let done = false;
  if (live) {
    // What the processors wrote until they passed the marker: the projector must be past it too.
    const outputs = [deps.topics.stageChanges.name, deps.topics.customerSnapshots.name];
    const outputEnds = await Promise.all(outputs.map((t) => deps.admin.endOffsets(t)));
    done = await passed(deps, projector, touchpoints, markerEnds, deadline);
    for (let i = 0; done && i < outputs.length; i++)
      done = await passed(deps, projector, outputs[i]!, outputEnds[i]!, deadline);
    say(`${projector}: ${done ? 'past the marker' : 'did not pass the marker in time'}`);
  }
  progress.push({ group: projector, role: 'projector', running: live, done });
  return progress;
}

async function passed(
  deps: ForgetDeps,
  group: string,
  topic: string,
  targets: ReadonlyMap<number, number>,
  deadline: number,
): Promise<boolean> {
  const now = deps.now ?? Date.now;
  for (;;) {
    const committed = await deps.admin.committedOffsets(group, topic);
    // The processors write their outputs in transactions: a partition's end there is its last commit
    // marker's offset plus one, and a reader that has read every record may have committed one short of it.
    const slack = topic === deps.topics.touchpoints.name ? 0 : 1;
    const behind = [...targets].filter(([p, end]) => end > 0 && (committed.get(p) ?? 0) < end - slack);
    if (behind.length === 0) return true;
    if (now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function eraseWithRetry(deps: ForgetDeps, ids: readonly string[]): Promise<Erasure> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await deps.clickhouse.erase(ids);
    } catch (err) {
      // Rows written while the deletes ran (a projector's batch in flight): a second pass removes them.
      if (attempt < 3 && err instanceof CicloError && err.code === 'DATA_CONFLICT') continue;
      throw err;
    }
  }
}
