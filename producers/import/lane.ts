/**
 * An import run's lane on the touchpoint topic (the protocol is schemas/lanes.ts): the records that open
 * and close it on every partition, and the lane header on each touchpoint record the run writes.
 */
import type { MessageProducer } from '../../infra/kafka/producer';
import type { OutgoingMessage } from '../../infra/kafka/types';
import { LANE_CONTROL_KEY, LANE_HEADER, laneControlHeaders, type LaneControl } from '../../schemas/lanes';

/** One control record per partition: the processor keeps a lane's clock per partition. */
export function laneControlRecords(control: LaneControl, partitions: number): OutgoingMessage[] {
  const headers = laneControlHeaders(control);
  return Array.from({ length: partitions }, (_, partition) => ({
    key: LANE_CONTROL_KEY,
    value: null,
    headers,
    partition,
  }));
}

/**
 * The run's touchpoint records: each keeps its own headers (a link copy's mark) and gets the lane's. Records
 * without headers of their own share one header object.
 */
export function inLane(
  lane: string,
): (record: {
  readonly key: string;
  readonly value: Buffer;
  readonly headers?: Readonly<Record<string, string>>;
  readonly partition?: number;
}) => OutgoingMessage {
  const laneOnly = { [LANE_HEADER]: lane };
  return (record) => ({
    key: record.key,
    value: record.value,
    headers: record.headers ? { ...record.headers, [LANE_HEADER]: lane } : laneOnly,
    ...(record.partition !== undefined ? { partition: record.partition } : {}),
  });
}

/** Writes `control` to every partition; resolves once Kafka has all of them. */
export function sendLaneControl(
  producer: MessageProducer,
  topic: string,
  control: LaneControl,
  partitions: number,
): Promise<void> {
  return producer.send(topic, laneControlRecords(control, partitions));
}
