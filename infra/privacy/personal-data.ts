/**
 * Personal data of touchpoints on their way into Kafka and out of it. Writers `prepare` touchpoints: those
 * of a forgotten id are dropped (and counted by the caller), and the personal fields of the rest
 * (schemas/personal-fields.ts) are sealed with a key of the id the touchpoint is keyed by. Readers `open`
 * them: with the key, the touchpoint is whole again; without it (the person was forgotten), it is the
 * touchpoint without its personal fields. Dead letters are sealed the same way (`sealBytes`/`openBytes`):
 * a letter keeps what a replay needs, under the same erasure rule.
 */
import { CicloError } from '../errors';
import { splitPersonal, withPersonal, type PersonalFields } from '../../schemas/personal-fields';
import { withKeptIds } from '../../schemas/pseudonym';
import { touchpointKey } from '../../schemas/topics';
import type { Touchpoint } from '../../schemas/touchpoint';
import type { ContractSerde } from '../registry/serde';
import type { KeyRing } from './key-ring';
import type { PersonKey } from './seal';
import { seal, sealedKeyId, unseal } from './seal';
import type { SuppressionList } from './suppression';

/** What `open` found: the fields opened, erased with their key, or a touchpoint that had none sealed. */
export type Opened =
  | { readonly state: 'open' | 'clear'; readonly touchpoint: Touchpoint }
  | { readonly state: 'erased'; readonly touchpoint: Touchpoint };

/** The sealed field's bound (schemas/touchpoint.ts). */
const SEALED_LIMIT = 1_000_000;

export interface TouchpointPrivacy {
  /** The touchpoint with an email sent as an id kept as its email id (schemas/pseudonym.ts `keptId`). */
  keptIds(touchpoint: Touchpoint): Touchpoint;
  /** The touchpoints with their personal fields sealed (keys created where needed). */
  seal(touchpoints: readonly Touchpoint[]): Promise<Touchpoint[]>;
  /** Suppressed touchpoints apart, the rest sealed. */
  /** Ids kept (`keptIds`), suppressed touchpoints apart, the rest sealed. */
  prepare(touchpoints: readonly Touchpoint[]): Promise<{ kept: Touchpoint[]; suppressed: Touchpoint[] }>;
  open(touchpoint: Touchpoint): Promise<Opened>;
  /** Whether any id of the touchpoint was forgotten. */
  isSuppressed(touchpoint: Touchpoint): boolean;
  /** `bytes` sealed for the id `id`, bound to `boundTo` (e.g. the record's key and offset-free id). */
  sealBytes(id: string, boundTo: string, bytes: Buffer): Promise<Buffer>;
  /** What sealBytes sealed; undefined when its key is gone. Bytes that were never sealed come back as they are. */
  openBytes(id: string, boundTo: string, bytes: Buffer): Promise<Buffer | undefined>;
}

const SEALED_BYTES_PREFIX = 'ciclo-sealed:';

/** Whether bytes are what `sealBytes` made. */
export function isSealedBytes(bytes: Buffer): boolean {
  return bytes.subarray(0, SEALED_BYTES_PREFIX.length).toString('utf8') === SEALED_BYTES_PREFIX;
}

export function touchpointPrivacy(
  secret: Buffer,
  keys: KeyRing,
  suppression: SuppressionList,
): TouchpointPrivacy {
  const isSuppressed = (tp: Touchpoint): boolean =>
    suppression.size > 0 &&
    ((tp.customerId !== undefined && suppression.isForgotten(tp.customerId)) ||
      (tp.anonymousId !== undefined && suppression.isForgotten(tp.anonymousId)) ||
      (tp.type === 'Aliased' && suppression.isForgotten(tp.payload.previousId)));
  async function sealAll(touchpoints: readonly Touchpoint[]): Promise<Touchpoint[]> {
    const split = touchpoints.map((tp) =>
      tp.sealed === undefined ? splitPersonal(tp) : { clear: tp, personal: undefined },
    );
    const kept: Touchpoint[] = [];
    const subjects = split.filter((s) => s.personal).map((s) => touchpointKey(s.clear));
    const keyOf = subjects.length > 0 ? await keys.keysFor(subjects) : new Map<string, PersonKey>();
    for (const { clear, personal } of split) {
      if (!personal) {
        kept.push(clear);
        continue;
      }
      const sealed = seal(keyOf.get(touchpointKey(clear))!, clear.eventId, JSON.stringify(personal));
      if (sealed.length > SEALED_LIMIT)
        throw new CicloError(
          'EVENT_INVALID',
          `touchpoint ${clear.eventId}: its personal fields (traits, properties, text) take more than ${SEALED_LIMIT} characters sealed`,
        );
      kept.push({ ...clear, sealed });
    }
    return kept;
  }
  return {
    keptIds: (tp) => withKeptIds(secret, tp),
    isSuppressed,
    async prepare(touchpoints) {
      const admitted: Touchpoint[] = [];
      const suppressed: Touchpoint[] = [];
      for (const sent of touchpoints) {
        const tp = withKeptIds(secret, sent);
        (isSuppressed(tp) ? suppressed : admitted).push(tp);
      }
      return { kept: await sealAll(admitted), suppressed };
    },
    seal: sealAll,

    async open(tp) {
      if (tp.sealed === undefined) return { state: 'clear', touchpoint: tp };
      const { sealed: _sealed, ...clear } = tp;
      const keyId = sealedKeyId(tp.sealed);
      const key = keyId === undefined ? undefined : await keys.find(touchpointKey(tp), keyId);
      const plain = key && unseal(key, tp.eventId, tp.sealed);
      if (plain === undefined) return { state: 'erased', touchpoint: clear as Touchpoint };
      return { state: 'open', touchpoint: withPersonal(tp, JSON.parse(plain) as PersonalFields) };
    },
    async sealBytes(id, boundTo, bytes) {
      const key = (await keys.keysFor([id])).get(id)!;
      return Buffer.from(SEALED_BYTES_PREFIX + seal(key, boundTo, bytes.toString('base64')), 'utf8');
    },
    async openBytes(id, boundTo, bytes) {
      if (!isSealedBytes(bytes)) return bytes;
      const sealed = bytes.subarray(SEALED_BYTES_PREFIX.length).toString('utf8');
      const keyId = sealedKeyId(sealed);
      const key = keyId === undefined ? undefined : await keys.find(id, keyId);
      const plain = key && unseal(key, boundTo, sealed);
      return plain === undefined ? undefined : Buffer.from(plain, 'base64');
    },
  };
}

/**
 * The touchpoint serde of a pipeline's writers and readers: `encode`/`encodeAll` seal personal fields first,
 * `decode` opens them (without the key, a decoded touchpoint has none). The processor uses the plain serde:
 * no stage rule reads a personal field.
 */
export function privateSerde(
  inner: ContractSerde<Touchpoint>,
  privacy: TouchpointPrivacy,
  /** Called for a decoded touchpoint whose sealed fields did not open (its key is gone). */
  onErased?: (touchpoint: Touchpoint) => void,
): ContractSerde<Touchpoint> & { readonly privacy: TouchpointPrivacy } {
  return {
    privacy,
    subject: inner.subject,
    schemaId: inner.schemaId,
    async encode(value) {
      return inner.encode((await privacy.seal([value]))[0]!);
    },
    async encodeAll(values, alreadyValid) {
      const sealed = await privacy.seal(values);
      // Sealing keeps a valid touchpoint valid (optional fields out, `sealed` within its bound).
      const origin = new Map<Touchpoint, Touchpoint>();
      sealed.forEach((tp, i) => origin.set(tp, values[i]!));
      const valid = alreadyValid && ((tp: Touchpoint): boolean => alreadyValid(origin.get(tp)!));
      return inner.encodeAll(sealed, valid);
    },
    async decode(message) {
      const decoded = await inner.decode(message);
      if (!decoded.ok || decoded.value.sealed === undefined) return decoded;
      const opened = await privacy.open(decoded.value);
      if (opened.state === 'erased') onErased?.(opened.touchpoint);
      return { ...decoded, value: opened.touchpoint };
    },
  };
}
