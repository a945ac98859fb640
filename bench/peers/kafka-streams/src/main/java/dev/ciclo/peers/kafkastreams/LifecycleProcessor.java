package dev.ciclo.peers.kafkastreams;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Consumes touchpoints keyed by customer (one task per input partition, each with its own share of the
 * stores and its own stream time), folds each into its customer's state in the `customers` store, applies
 * the five-stage event rules, and writes a stage change for each change of stage. Inactivity changes fire
 * from a stream-time punctuator that reads the `inactivity-deadlines` store, an index of every customer's
 * next deadline ordered by time, so a punctuation reads only what is due.
 *
 * <p>Delivery: exactly-once (processing.guarantee=exactly_once_v2): the stores' changelog records, the stage
 * changes and the input offsets are committed in one transaction per commit interval.
 *
 * <p>Order: records are folded in partition order, as ciclo's processor does with grace 0 (the bench's
 * setting). Before a customer's touchpoint is applied, that customer's deadlines up to the partition's stream
 * time fire, and again after it (a late touchpoint may leave a deadline the clock passed already): ciclo fires
 * every deadline up to its partition clock after each record, so each customer sees its inactivity changes
 * in the same place among its touchpoints. Other customers' due deadlines wait for the next punctuation,
 * which changes when a change is written, not which changes are written.
 */
public final class LifecycleProcessor implements Processor<String, Touchpoint, String, String> {
  public static final String CUSTOMERS_STORE = "customers";
  public static final String DEADLINES_STORE = "inactivity-deadlines";
  /**
   * schemas/topics.ts LINK_COPY_HEADER: a link (Identified with both ids, Aliased) is also written to every
   * other partition for that partition's identity table. The peer has no identity table, so it folds the fact
   * on the customer's home partition only and skips the copies, as ciclo's readers of facts do.
   */
  public static final String LINK_COPY_HEADER = "ciclo-link-copy";

  private static final byte[] INDEXED = new byte[0];

  private final Duration punctuateEvery;
  private ProcessorContext<String, String> context;
  private KeyValueStore<String, CustomerState> customers;
  private KeyValueStore<Bytes, byte[]> deadlines;

  public LifecycleProcessor(Duration punctuateEvery) {
    this.punctuateEvery = punctuateEvery;
  }

  @Override
  public void init(ProcessorContext<String, String> context) {
    this.context = context;
    this.customers = context.getStateStore(CUSTOMERS_STORE);
    this.deadlines = context.getStateStore(DEADLINES_STORE);
    context.schedule(punctuateEvery, PunctuationType.STREAM_TIME, this::fireDueDeadlines);
  }

  @Override
  public void process(Record<String, Touchpoint> record) {
    Touchpoint tp = record.value();
    if (tp == null) return; // undecodable: counted and logged by TouchpointDeserializer
    if (record.headers().lastHeader(LINK_COPY_HEADER) != null) return;
    String id = tp.profileId();
    if (id == null) return; // a business fact (marketing spend): no customer to fold into
    long at = record.timestamp(); // occurredAt, bounded (EventTimeExtractor)
    long clock = Math.max(context.currentStreamTimeMs(), at);

    CustomerState s = customers.get(id);
    Long indexed;
    if (s == null) {
      // A score creates no customer (one unknown here), as in ciclo.
      if (tp.type().equals("ClvPredicted")) return;
      s = CustomerState.initial(FiveStageModel.INITIAL_STAGE, at);
      indexed = null;
      emit(new StageChange(id, null, s.stage, FiveStageModel.FIRST_TOUCH, at));
    } else {
      indexed = deadlineAt(s);
      fireDue(id, s, clock);
    }
    s.apply(tp, at);
    FiveStageModel.EventRule rule = FiveStageModel.decideOnEvent(s, tp.type());
    if (rule != null) change(id, s, rule.to(), rule.id(), at);
    fireDue(id, s, clock);
    customers.put(id, s);
    reindex(id, indexed, deadlineAt(s));
  }

  /** The punctuator: every customer whose next deadline is at or before stream time, in deadline order. */
  private void fireDueDeadlines(long streamTime) {
    List<Bytes> due = new ArrayList<>();
    // Collected first: the loop below rewrites the index, which an open iterator need not see consistently.
    try (KeyValueIterator<Bytes, byte[]> it =
        deadlines.range(indexKey(Long.MIN_VALUE, ""), indexKey(streamTime + 1, ""))) {
      while (it.hasNext()) due.add(it.next().key);
    }
    for (Bytes key : due) {
      String id = idOf(key);
      CustomerState s = customers.get(id);
      if (s == null) {
        deadlines.delete(key);
        continue;
      }
      Long indexed = deadlineAt(s);
      fireDue(id, s, streamTime);
      customers.put(id, s);
      reindex(id, indexed, deadlineAt(s));
    }
  }

  /** Fires the customer's inactivity changes due at or before `until`, in order (at risk, then lapsed). */
  private void fireDue(String id, CustomerState s, long until) {
    for (FiveStageModel.Deadline d = FiveStageModel.nextDeadline(s);
        d != null && d.at() <= until;
        d = FiveStageModel.nextDeadline(s)) change(id, s, d.rule().to(), d.rule().id(), d.at());
  }

  private void change(String id, CustomerState s, String to, String ruleId, long at) {
    String from = s.stage;
    s.enterStage(to, at);
    emit(new StageChange(id, from, to, ruleId, at));
  }

  /**
   * The record's timestamp is when the peer wrote it, as with ciclo's producer: the change's event time is in
   * the value, and a topic's time-based retention must not delete changes of simulated history at once.
   */
  private void emit(StageChange change) {
    context.forward(new Record<>(change.customerId(), change.toJson(), context.currentSystemTimeMs()));
  }

  private static Long deadlineAt(CustomerState s) {
    FiveStageModel.Deadline d = FiveStageModel.nextDeadline(s);
    return d == null ? null : d.at();
  }

  private void reindex(String id, Long before, Long after) {
    if (before != null && before.equals(after)) return;
    if (before != null) deadlines.delete(indexKey(before, id));
    if (after != null) deadlines.put(indexKey(after, id), INDEXED);
  }

  /**
   * The deadline (8 bytes big-endian, sign bit flipped so that byte order is time order, before 1970 too)
   * then the customer id: the store's byte order is then deadline order.
   */
  static Bytes indexKey(long deadline, String id) {
    byte[] idBytes = id.getBytes(StandardCharsets.UTF_8);
    return Bytes.wrap(
        ByteBuffer.allocate(8 + idBytes.length).putLong(deadline ^ Long.MIN_VALUE).put(idBytes).array());
  }

  static String idOf(Bytes key) {
    byte[] b = key.get();
    return new String(Arrays.copyOfRange(b, 8, b.length), StandardCharsets.UTF_8);
  }
}
