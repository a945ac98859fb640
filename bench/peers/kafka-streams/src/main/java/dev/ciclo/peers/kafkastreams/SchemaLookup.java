package dev.ciclo.peers.kafkastreams;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;

/** Where the writer schema of a Confluent wire-format record comes from, by the id in its header. */
public interface SchemaLookup {

  /**
   * The schema registered under this id, or null when the registry has no such id (the record is then
   * undecodable). Throws when the registry cannot be asked: the record is not lost by skipping it.
   */
  Schema schemaById(int id);

  /** A fixed set of schemas (the self-check's, which runs without a registry). */
  static SchemaLookup of(Map<Integer, Schema> schemas) {
    return schemas::get;
  }

  /**
   * The Confluent-compatible registry API, `GET <url>/schemas/ids/<id>` answering `{"schema": "<json>"}`
   * (the native stack's Hortonworks registry serves it at /api/v1/confluent). A schema id never changes
   * meaning, so each is fetched once and kept. A registry that does not answer is retried for about a
   * minute, then the lookup fails and with it the stream thread: skipping records because the registry was
   * restarting would lose them silently.
   */
  final class Registry implements SchemaLookup {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration GIVE_UP_AFTER = Duration.ofSeconds(60);

    private final String baseUrl;
    private final HttpClient http =
        HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final Map<Integer, Schema> cache = new ConcurrentHashMap<>();

    public Registry(String baseUrl) {
      this.baseUrl = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
    }

    @Override
    public Schema schemaById(int id) {
      Schema cached = cache.get(id);
      if (cached != null) return cached;
      Schema fetched = fetch(id);
      if (fetched != null) cache.put(id, fetched);
      return fetched;
    }

    private Schema fetch(int id) {
      HttpRequest request =
          HttpRequest.newBuilder(URI.create(baseUrl + "/schemas/ids/" + id))
              .timeout(Duration.ofSeconds(10))
              .header("Accept", "application/vnd.schemaregistry.v1+json, application/json")
              .GET()
              .build();
      long deadline = System.nanoTime() + GIVE_UP_AFTER.toNanos();
      long backoffMs = 100;
      for (; ; ) {
        try {
          HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
          if (response.statusCode() == 404) return null;
          if (response.statusCode() == 200) {
            JsonNode body = JSON.readTree(response.body());
            return new Schema.Parser().parse(body.get("schema").asText());
          }
          if (response.statusCode() < 500)
            throw new IllegalStateException(
                "registry answered " + response.statusCode() + " for schema " + id + ": " + response.body());
          // 5xx: the registry is there but not ready (e.g. its database restarting); retried below.
        } catch (IOException e) {
          if (System.nanoTime() > deadline)
            throw new IllegalStateException("registry " + baseUrl + " unreachable for schema " + id, e);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted fetching schema " + id, e);
        }
        if (System.nanoTime() > deadline)
          throw new IllegalStateException("registry " + baseUrl + " kept failing for schema " + id);
        try {
          Thread.sleep(backoffMs);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted fetching schema " + id, e);
        }
        backoffMs = Math.min(5_000, backoffMs * 2);
      }
    }
  }
}
