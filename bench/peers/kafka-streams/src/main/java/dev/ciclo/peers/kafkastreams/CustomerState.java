package dev.ciclo.peers.kafkastreams;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * One customer's state, as far as the five-stage model reads it, and a few facts to compare with ciclo's
 * (processors/domain/customer.ts, whose `evolve` this mirrors field by field). Kept small on purpose: no
 * channel attribution, no event-id dedupe list, no merged ids (see the README for what that leaves out).
 *
 * <p>Purchase days: the rules read how many distinct days a customer bought on (`minPurchaseDays`) and the
 * cadence (first to last purchase day over that count less one). ciclo keeps the list of days; this keeps
 * the count and the first and last purchase. For purchases in event-time order, the only order the e2e
 * bench sends, both are exact: a purchase is on a new day unless it is the last purchase's day. A late
 * purchase (before the last purchase) counts as a new day unless it is on the first or last purchase's day;
 * ciclo would know whether the customer bought that day already.
 */
public final class CustomerState {
  private static final long DAY_MS = 86_400_000L;
  private static final long NONE = Long.MIN_VALUE;
  /** ciclo's OPEN_TICKETS_LIMIT: tickets opened and never resolved must not grow the state without end. */
  private static final int OPEN_TICKETS_LIMIT = 1000;
  private static final byte FORMAT = 1;

  long firstSeenAt;
  long lastSeenAt;
  int orders;
  /** In minor units of the customer's first currency; purchases in any other currency are not added. */
  long netRevenueMinor;
  String currency;
  long firstPurchaseAt = NONE;
  long lastPurchaseAt = NONE;
  int purchaseDays;
  /** The latest NPS answer applied, or -1. */
  int latestNps = -1;
  /** P(alive) from ciclo's CLV fit (ClvPredicted), or NaN while unknown. */
  double probabilityAlive = Double.NaN;
  int referralsMade;
  List<String> openTickets = new ArrayList<>(0);
  String stage;
  long stageEnteredAt;

  static CustomerState initial(String stage, long at) {
    CustomerState s = new CustomerState();
    s.firstSeenAt = at;
    s.lastSeenAt = at;
    s.stage = stage;
    s.stageEnteredAt = at;
    return s;
  }

  boolean hasPurchased() {
    return lastPurchaseAt != NONE;
  }

  /** Mean days between distinct purchase days; NaN until there are two (ciclo's purchaseCadenceDays). */
  double purchaseCadenceDays() {
    if (purchaseDays < 2) return Double.NaN;
    return (double) (day(lastPurchaseAt) - day(firstPurchaseAt)) / (purchaseDays - 1);
  }

  void enterStage(String to, long at) {
    stage = to;
    stageEnteredAt = at;
  }

  /** Folds one touchpoint in, at its (bounded) event time `at`. Stage changes are the model's business. */
  void apply(Touchpoint tp, long at) {
    if (tp.type().equals("ClvPredicted")) {
      // A score about the customer, not something the customer did: it moves no "seen" time.
      if (tp.probabilityAlive() != null) probabilityAlive = tp.probabilityAlive();
      return;
    }
    firstSeenAt = Math.min(firstSeenAt, at);
    lastSeenAt = Math.max(lastSeenAt, at);
    switch (tp.type()) {
      case "PurchaseCompleted" -> {
        orders += 1;
        countPurchaseDay(at);
        firstPurchaseAt = firstPurchaseAt == NONE ? at : Math.min(firstPurchaseAt, at);
        lastPurchaseAt = lastPurchaseAt == NONE ? at : Math.max(lastPurchaseAt, at);
        revenue(tp.amountMinor(), tp.currency());
      }
      case "RefundIssued" -> revenue(tp.amountMinor() == null ? null : -tp.amountMinor(), tp.currency());
      case "SurveyAnswered" -> {
        if (tp.nps() != null) latestNps = tp.nps();
      }
      case "SupportTicketOpened" -> {
        if (tp.ticketId() != null && !openTickets.contains(tp.ticketId())) {
          openTickets.add(tp.ticketId());
          if (openTickets.size() > OPEN_TICKETS_LIMIT) openTickets.remove(0);
        }
      }
      case "SupportTicketResolved" -> openTickets.remove(tp.ticketId());
      case "ReferralMade" -> referralsMade += 1;
      default -> {
        // Page views, email events, identify, subscriptions, custom events: seen, nothing else.
      }
    }
  }

  private void countPurchaseDay(long at) {
    long d = day(at);
    if (lastPurchaseAt == NONE) purchaseDays = 1;
    else if (d != day(lastPurchaseAt) && d != day(firstPurchaseAt)) purchaseDays += 1;
  }

  private void revenue(Long amountMinor, String purchaseCurrency) {
    if (amountMinor == null || purchaseCurrency == null) return;
    if (currency == null) currency = purchaseCurrency;
    if (currency.equals(purchaseCurrency)) netRevenueMinor += amountMinor;
  }

  private static long day(long at) {
    return Math.floorDiv(at, DAY_MS);
  }

  /** The store's serde: a versioned binary record, about 100 bytes for a customer without open tickets. */
  static Serde<CustomerState> serde() {
    Serializer<CustomerState> serializer = (topic, s) -> s == null ? null : s.toBytes();
    Deserializer<CustomerState> deserializer = (topic, b) -> b == null ? null : fromBytes(b);
    return Serdes.serdeFrom(serializer, deserializer);
  }

  byte[] toBytes() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(96);
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeByte(FORMAT);
      out.writeLong(firstSeenAt);
      out.writeLong(lastSeenAt);
      out.writeInt(orders);
      out.writeLong(netRevenueMinor);
      out.writeUTF(currency == null ? "" : currency);
      out.writeLong(firstPurchaseAt);
      out.writeLong(lastPurchaseAt);
      out.writeInt(purchaseDays);
      out.writeInt(latestNps);
      out.writeDouble(probabilityAlive);
      out.writeInt(referralsMade);
      out.writeInt(openTickets.size());
      for (String t : openTickets) out.writeUTF(t);
      out.writeUTF(stage);
      out.writeLong(stageEnteredAt);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  static CustomerState fromBytes(byte[] b) {
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(b))) {
      byte format = in.readByte();
      if (format != FORMAT) throw new IllegalStateException("unknown customer state format " + format);
      CustomerState s = new CustomerState();
      s.firstSeenAt = in.readLong();
      s.lastSeenAt = in.readLong();
      s.orders = in.readInt();
      s.netRevenueMinor = in.readLong();
      String currency = in.readUTF();
      s.currency = currency.isEmpty() ? null : currency;
      s.firstPurchaseAt = in.readLong();
      s.lastPurchaseAt = in.readLong();
      s.purchaseDays = in.readInt();
      s.latestNps = in.readInt();
      s.probabilityAlive = in.readDouble();
      s.referralsMade = in.readInt();
      int tickets = in.readInt();
      s.openTickets = new ArrayList<>(tickets);
      for (int i = 0; i < tickets; i++) s.openTickets.add(in.readUTF());
      s.stage = in.readUTF();
      s.stageEnteredAt = in.readLong();
      return s;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
