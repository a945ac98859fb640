"""Reads ciclo's Avro records from Kafka the way a Python user would: Confluent's own client
(confluent-kafka, DeserializingConsumer + AvroDeserializer), configured only as ciclo's docs say.

Prints one JSON line per record read: {"topic", "partition", "offset", "key", "value"}, with
timestamp-millis fields (decoded by fastavro as datetimes) back in epoch milliseconds. A record the
deserializer refuses ends the run: one line {"topic", "error", "calls"} (the client functions the error
came through) and exit code 1. Exits 2 when fewer than
--expect records arrived before --timeout seconds.

--strategy topic  sets subject.name.strategy.type TOPIC, as the docs say;
--strategy default  leaves the client's defaults (ASSOCIATED: it asks the registry's associations API first).
"""

import argparse
import datetime
import json
import sys
import time
import traceback

from confluent_kafka import DeserializingConsumer
from confluent_kafka.error import ValueDeserializationError
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import StringDeserializer


def as_json(value):
    if isinstance(value, datetime.datetime):
        return int(value.timestamp() * 1000)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def failure(topic, err):
    """The refusal as data: the client's own exception, and the client calls it was raised in."""
    cause = err.__context__ or err
    calls = [frame.name for frame in traceback.extract_tb(cause.__traceback__)]
    return {"topic": topic, "error": f"{type(cause).__name__}: {cause}", "calls": calls}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--registry", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--topic", action="append", required=True)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--strategy", choices=["topic", "default"], required=True)
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args()

    registry = SchemaRegistryClient({"url": args.registry})
    # What ciclo's README and schemas/README.md tell Python users to set.
    conf = {"subject.name.strategy.type": "TOPIC"} if args.strategy == "topic" else None
    consumer = DeserializingConsumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": args.group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "key.deserializer": StringDeserializer("utf_8"),
            "value.deserializer": AvroDeserializer(registry, conf=conf),
        }
    )
    consumer.subscribe(args.topic)
    read = 0
    deadline = time.monotonic() + args.timeout
    try:
        while read < args.expect and time.monotonic() < deadline:
            try:
                msg = consumer.poll(0.5)
            except ValueDeserializationError as err:
                topic = err.kafka_message.topic() if err.kafka_message is not None else None
                print(json.dumps(failure(topic, err)), flush=True)
                return 1
            if msg is None:
                continue
            if msg.error():
                print(json.dumps({"topic": msg.topic(), "error": str(msg.error())}), flush=True)
                return 1
            line = {
                "topic": msg.topic(),
                "partition": msg.partition(),
                "offset": msg.offset(),
                "key": msg.key(),
                "value": msg.value(),
            }
            print(json.dumps(line, default=as_json), flush=True)
            read += 1
    finally:
        consumer.close()
    if read < args.expect:
        print(f"read {read} of {args.expect} records in {args.timeout} s", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
