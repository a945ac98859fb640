/**
 * Producing accepted touchpoints to `ciclo.touchpoints`: encode them with the touchpoint serde (Avro,
 * Confluent wire format; all of a request's touchpoints at once), key each by customer, a link to every
 * partition (schemas/topics.ts touchpointRecords), and send them in one call to the idempotent producer (acks from all in-sync replicas). Resolves `ok` only once Kafka has every message;
 * a rejected or timed-out send is an `unavailable` outcome, so the HTTP layer never answers 2xx for an event
 * that might be lost. After a timeout the send may still complete; the sender's retry then produces the
 * same eventIds again, which consumers deduplicate (at-least-once). A request's dead letters (the collector's
 * invalid calls) go to the sink's dead-letter topic in the same call and the same outcome: `ok` only once
 * Kafka has them too, since a sender told its call was refused will not send it again.
 *
 * With the sink's privacy (infra/privacy/personal-data.ts), touchpoints of a forgotten id are dropped and
 * counted as suppressed, the personal fields of the others are sealed with their person's key, and so is a
 * dead letter's value (bound to its key: the person's id).
 */
import { CicloError, errorMessage } from '../../infra/errors';
import type { MessageProducer } from '../../infra/kafka/producer';
import type { OutgoingMessage } from '../../infra/kafka/types';
import type { TouchpointPrivacy } from '../../infra/privacy/personal-data';
import type { ContractSerde } from '../../infra/registry/serde';
import { TOPICS, touchpointRecords } from '../../schemas/topics';
import type { Touchpoint } from '../../schemas/touchpoint';
import { isContractChecked } from './check';

export interface TouchpointSink {
  readonly producer: MessageProducer;
  /** `encodeAll` when there is one, else `encode` for each touchpoint; a unit test can pass a stub. */
  readonly serde: Pick<ContractSerde<Touchpoint>, 'encode'> &
    Partial<Pick<ContractSerde<Touchpoint>, 'encodeAll'>>;
  readonly sendTimeoutMs: number;
  /** Defaults to TOPICS.touchpoints.name; integration tests pass their own topic. */
  readonly topic?: string;
  /** The topic's partition count: a link goes to every partition (schemas/topics.ts touchpointRecords). */
  readonly partitions: number;
  /** Where dead letters go: schemas/topics.ts deadLetterTopicFor(topic). */
  readonly deadLetterTopic: string;
  /** Suppression and sealing; without it (unit tests of other concerns), touchpoints go as they are. */
  readonly privacy?: TouchpointPrivacy;
}

export type PublishOutcome =
  /** `suppressed`: touchpoints of forgotten ids, dropped (not produced). */
  | { readonly ok: true; readonly produced: number; readonly suppressed: number }
  | { readonly ok: false; readonly reason: 'unavailable'; readonly error: string }
  /** The serde refused a touchpoint the edge had validated: a bug, not the sender's fault. */
  | { readonly ok: false; readonly reason: 'rejected'; readonly error: string };

export async function publishTouchpoints(
  sink: TouchpointSink,
  touchpoints: readonly Touchpoint[],
  deadLetters: readonly OutgoingMessage[] = [],
): Promise<PublishOutcome> {
  if (touchpoints.length === 0 && deadLetters.length === 0) return { ok: true, produced: 0, suppressed: 0 };
  const messages: OutgoingMessage[] = [];
  let outgoing = touchpoints;
  let letters = deadLetters;
  let suppressed = 0;
  try {
    // Touchpoints the edge checked against the contract (checkTouchpoint) are not validated again: sealing
    // moves optional fields into `sealed`, whose bound `prepare` checks.
    const checked = isContractChecked(touchpoints);
    if (sink.privacy) {
      const prepared = await sink.privacy.prepare(touchpoints);
      outgoing = prepared.kept;
      suppressed = prepared.suppressed.length;
      letters = await Promise.all(deadLetters.map((m) => sealDeadLetter(sink.privacy!, m)));
    }
    const values = sink.serde.encodeAll
      ? await sink.serde.encodeAll(outgoing, checked ? checkedAtTheEdge : undefined)
      : await Promise.all(outgoing.map((tp) => sink.serde.encode(tp)));
    for (let i = 0; i < outgoing.length; i++) {
      const tp = outgoing[i]!;
      for (const record of touchpointRecords(tp, values[i]!, sink.partitions))
        messages.push({ ...record, timestamp: tp.receivedAt });
    }
  } catch (err) {
    // Encoding needs the registry for the schema; an unreachable registry is as retriable as Kafka.
    if (err instanceof CicloError && err.code === 'EVENT_INVALID') {
      return { ok: false, reason: 'rejected', error: err.message };
    }
    return { ok: false, reason: 'unavailable', error: `encoding failed: ${errorMessage(err)}` };
  }
  try {
    const sends: Promise<void>[] = [];
    if (messages.length > 0) sends.push(sink.producer.send(sink.topic ?? TOPICS.touchpoints.name, messages));
    if (letters.length > 0) sends.push(sink.producer.send(sink.deadLetterTopic, letters));
    await withTimeout(Promise.all(sends), sink.sendTimeoutMs);
    return { ok: true, produced: outgoing.length, suppressed };
  } catch (err) {
    return { ok: false, reason: 'unavailable', error: errorMessage(err) };
  }
}

const checkedAtTheEdge = (): boolean => true;

/** A dead letter of a person (its key is their id) sealed with their key; one without a key stays as it is. */
async function sealDeadLetter(privacy: TouchpointPrivacy, letter: OutgoingMessage): Promise<OutgoingMessage> {
  if (letter.key === null || letter.value === null) return letter;
  return { ...letter, value: await privacy.sealBytes(letter.key, letter.key, letter.value) };
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new CicloError('TIMEOUT', `Kafka did not acknowledge within ${ms} ms`, { retriable: true })),
      ms,
    );
  });
  // A send that settles after the timeout must not become an unhandled rejection.
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
