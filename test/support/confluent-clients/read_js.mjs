// Decodes ciclo's Avro records the way a Node user would: Confluent's own registry client
// (@confluentinc/schemaregistry, AvroDeserializer), configured only as ciclo's docs say.
//
// Usage: node read_js.mjs <folder where the client is installed> topic|default  < records.json
// where records.json is [{ "topic", "partition", "offset", "key", "value": base64 of the record's bytes }]
// as read from Kafka. Prints one JSON line per record, its value decoded (timestamp-millis fields come out as
// epoch milliseconds, as ciclo wrote them). A record the deserializer refuses ends the run:
// one line { "topic", "error", "status", "calls" } (the registry client's methods called so far, the failing
// one last) and exit code 1.
//
// `topic` sets subjectNameStrategyType TOPIC, as the docs say; `default` leaves the client's defaults
// (ASSOCIATED: it asks the registry's associations API first).
import { createRequire } from 'node:module';
import path from 'node:path';

const [toolsDir, strategy] = process.argv.slice(2);
if (!toolsDir || (strategy !== 'topic' && strategy !== 'default')) {
  process.stderr.write('usage: node read_js.mjs <client folder> topic|default < records.json\n');
  process.exit(64);
}
const require = createRequire(path.join(path.resolve(toolsDir), 'package.json'));
const {
  AvroDeserializer,
  SchemaRegistryClient,
  SerdeType,
  SubjectNameStrategyType,
} = require('@confluentinc/schemaregistry');

const registryUrl = process.env.SCHEMA_REGISTRY_URL;
if (!registryUrl) {
  process.stderr.write('SCHEMA_REGISTRY_URL is not set\n');
  process.exit(64);
}

let input = '';
for await (const chunk of process.stdin) input += chunk;
const records = JSON.parse(input);

const calls = [];
const client = new Proxy(new SchemaRegistryClient({ baseURLs: [registryUrl] }), {
  get(target, name) {
    const member = Reflect.get(target, name);
    if (typeof member !== 'function') return member;
    return (...args) => {
      calls.push(String(name));
      return member.apply(target, args);
    };
  },
});
// What ciclo's README and schemas/README.md tell Node users to set.
const config = strategy === 'topic' ? { subjectNameStrategyType: SubjectNameStrategyType.TOPIC } : {};
const deserializer = new AvroDeserializer(client, SerdeType.VALUE, config);

for (const { topic, partition, offset, key, value } of records) {
  try {
    const decoded = await deserializer.deserialize(topic, Buffer.from(value, 'base64'));
    process.stdout.write(`${JSON.stringify({ topic, partition, offset, key, value: decoded })}\n`);
  } catch (err) {
    process.stdout.write(
      `${JSON.stringify({ topic, error: `${err.name}: ${err.message}`, status: err.status ?? null, calls })}\n`,
    );
    process.exit(1);
  }
}
