/**
 * Stand-ins for the ports of a touchpoint sink (publish.ts), for unit tests: a producer that keeps what it
 * was sent in memory (and can be told to reject or never answer, like an unreachable Kafka), and a serde
 * that validates with the touchpoint contract and encodes as JSON instead of going through a schema
 * registry.
 */
import { CicloError } from '../../infra/errors';
import type { MessageProducer } from '../../infra/kafka/producer';
import type { OutgoingMessage } from '../../infra/kafka/types';
import type { ContractSerde } from '../../infra/registry/serde';
import { TouchpointSchema, type Touchpoint } from '../../schemas/touchpoint';
import { formatProblems, validateWith } from '../../schemas/validation';

export interface InMemoryProducer extends MessageProducer {
  readonly sent: { readonly topic: string; readonly messages: readonly OutgoingMessage[] }[];
  /** `ok` stores and resolves; `reject` fails every send; `hang` never settles (a send that times out). */
  behaviour: 'ok' | 'reject' | 'hang';
  closed: boolean;
}

export function inMemoryProducer(): InMemoryProducer {
  const producer: InMemoryProducer = {
    sent: [],
    behaviour: 'ok',
    closed: false,
    send(topic, messages) {
      if (producer.behaviour === 'reject') {
        return Promise.reject(
          new CicloError('SERVICE_UNREACHABLE', 'broker unavailable', { retriable: true }),
        );
      }
      if (producer.behaviour === 'hang') return new Promise<void>(() => undefined);
      producer.sent.push({ topic, messages: [...messages] });
      return Promise.resolve();
    },
    close() {
      producer.closed = true;
      return Promise.resolve();
    },
  };
  return producer;
}

/** Encodes touchpoints as JSON after the same validation the real serde does. */
export function jsonTouchpointSerde(): Pick<ContractSerde<Touchpoint>, 'encode'> {
  return {
    encode(value) {
      const checked = validateWith(TouchpointSchema, value);
      if (!checked.ok) {
        return Promise.reject(
          new CicloError('EVENT_INVALID', `invalid touchpoint: ${formatProblems(checked.problems)}`),
        );
      }
      return Promise.resolve(Buffer.from(JSON.stringify(checked.value), 'utf8'));
    },
  };
}

const isDeadLetterTopic = (topic: string): boolean => topic.endsWith('.dlq');

/** The touchpoints an in-memory producer was sent, decoded from the JSON serde (dead letters left out). */
export function sentTouchpoints(producer: InMemoryProducer): Touchpoint[] {
  return producer.sent
    .filter((s) => !isDeadLetterTopic(s.topic))
    .flatMap((s) =>
      s.messages.map((m) => JSON.parse((m.value ?? Buffer.alloc(0)).toString('utf8')) as Touchpoint),
    );
}

/** The dead letters an in-memory producer was sent: topic, key, the value as JSON text, and headers. */
export function sentDeadLetters(
  producer: InMemoryProducer,
): { topic: string; key: string | null; value: string; headers: Readonly<Record<string, string>> }[] {
  return producer.sent
    .filter((s) => isDeadLetterTopic(s.topic))
    .flatMap((s) =>
      s.messages.map((m) => ({
        topic: s.topic,
        key: m.key,
        value: (m.value ?? Buffer.alloc(0)).toString('utf8'),
        headers: m.headers ?? {},
      })),
    );
}
