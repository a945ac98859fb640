/**
 * Stand-ins for the collector's ports, for unit tests: a producer that keeps what it was sent in memory
 * (and can be told to reject or never answer, like an unreachable Kafka), a serde that validates with the
 * touchpoint contract and encodes as JSON instead of going through a schema registry, and requests over a
 * loopback socket.
 */
import type { FastifyInstance } from 'fastify';
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

/** The touchpoints an in-memory producer was sent, decoded from the JSON serde. */
export function sentTouchpoints(producer: InMemoryProducer): Touchpoint[] {
  return producer.sent.flatMap((s) =>
    s.messages.map((m) => JSON.parse((m.value ?? Buffer.alloc(0)).toString('utf8')) as Touchpoint),
  );
}

export interface LoopbackRequest {
  readonly method?: string;
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** An object is sent as JSON; a string or Buffer as it is. */
  readonly payload?: unknown;
}

export interface LoopbackResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  json<T = Record<string, unknown>>(): T;
}

const listening = new WeakMap<FastifyInstance, Promise<string>>();

/**
 * `app.inject()` over a real loopback socket: the app listens on an ephemeral port of 127.0.0.1 on first
 * use (close it with `app.close()`). Jest cannot load light-my-request, which inject() uses, on Node 20: it
 * requires the ESM-only `cookie` package. Same request and response shape as inject(), so tests can switch.
 */
export async function loopbackInject(
  app: FastifyInstance,
  request: LoopbackRequest,
): Promise<LoopbackResponse> {
  let address = listening.get(app);
  if (!address) {
    address = app.listen({ port: 0, host: '127.0.0.1' });
    listening.set(app, address);
  }
  const isRaw = typeof request.payload === 'string' || Buffer.isBuffer(request.payload);
  const headers: Record<string, string> = {
    ...(request.payload !== undefined && !isRaw ? { 'content-type': 'application/json' } : {}),
    ...request.headers,
  };
  const res = await fetch(`${await address}${request.url}`, {
    method: request.method ?? 'GET',
    headers,
    ...(request.payload === undefined
      ? {}
      : { body: isRaw ? request.payload : JSON.stringify(request.payload) }),
  });
  const body = await res.text();
  return {
    statusCode: res.status,
    headers: Object.fromEntries(res.headers.entries()),
    body,
    json: <T>() => JSON.parse(body) as T,
  };
}
