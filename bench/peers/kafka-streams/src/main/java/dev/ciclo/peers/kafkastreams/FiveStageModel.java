package dev.ciclo.peers.kafkastreams;

import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

/**
 * ciclo's five-stage model (processors/domain/presets/five-stage.json) written out as code, as a Kafka
 * Streams user would write the one model they need, and decided the way ciclo's rule engine decides
 * (processors/domain/rules.ts):
 *
 * <ul>
 *   <li>After each touchpoint, the first event rule in file order that applies from the customer's stage,
 *       names the touchpoint's type (or no type), and whose conditions hold, fires; at most one per touchpoint.
 *   <li>Inactivity is judged against the customer's own purchase cadence: deadline = last purchase +
 *       max(minDays, multiple x cadence days), the cadence being 60 days until there are two purchase days.
 *       A customer who never bought has no deadline.
 * </ul>
 *
 * Other models (six-stage, small-business, a user's own) are not supported: the peer measures the five-stage
 * job the bench runs.
 */
public final class FiveStageModel {
  public static final String INITIAL_STAGE = "reach";
  /** The rule id of a new customer's first change (ciclo's partition.ts). */
  public static final String FIRST_TOUCH = "first-touch";

  private static final long DAY_MS = 86_400_000L;
  private static final double DEFAULT_CADENCE_DAYS = 60;
  private static final String PURCHASE = "PurchaseCompleted";

  /** A rule that fires on a touchpoint: `eventTypes` null means any type. */
  record EventRule(
      String id, Set<String> from, String to, Set<String> eventTypes, Predicate<CustomerState> holds) {
    boolean fires(CustomerState s, String type) {
      return from.contains(s.stage)
          && !to.equals(s.stage)
          && (eventTypes == null || eventTypes.contains(type))
          && holds.test(s);
    }
  }

  /** A rule that fires when the customer has bought nothing for long enough. */
  record InactivityRule(String id, Set<String> from, String to, double multiple, double minDays) {}

  /** An inactivity change due at `at` (ms since the epoch). */
  record Deadline(InactivityRule rule, long at) {}

  private static final Predicate<CustomerState> ALWAYS = s -> true;

  /** five-stage.json's event rules, in its order (the order decides which fires). */
  static final List<EventRule> EVENT_RULES =
      List.of(
          new EventRule("reactivation", Set.of("lapsed"), "reactivated", Set.of(PURCHASE), ALWAYS),
          new EventRule("win-back", Set.of("at_risk"), "retention", Set.of(PURCHASE), ALWAYS),
          new EventRule(
              "repeat-after-reactivation", Set.of("reactivated"), "retention", Set.of(PURCHASE), ALWAYS),
          new EventRule(
              "detractor-with-open-ticket",
              Set.of("conversion", "retention", "loyalty", "reactivated"),
              "at_risk",
              null,
              s -> s.latestNps >= 0 && s.latestNps <= 6 && !s.openTickets.isEmpty()),
          new EventRule(
              "low-probability-alive",
              Set.of("retention", "loyalty"),
              "at_risk",
              null,
              s -> !Double.isNaN(s.probabilityAlive) && s.probabilityAlive < 0.3),
          new EventRule(
              "promoter-advocate",
              Set.of("retention"),
              "loyalty",
              null,
              s -> s.purchaseDays >= 3 && s.latestNps >= 9),
          new EventRule(
              "referrer-advocate",
              Set.of("retention"),
              "loyalty",
              null,
              s -> s.purchaseDays >= 2 && s.referralsMade >= 1),
          new EventRule(
              "second-purchase",
              Set.of("conversion"),
              "retention",
              Set.of(PURCHASE),
              s -> s.purchaseDays >= 2),
          new EventRule(
              "first-purchase", Set.of("reach", "acquisition"), "conversion", Set.of(PURCHASE), ALWAYS),
          new EventRule(
              "signed-up",
              Set.of("reach"),
              "acquisition",
              Set.of("Identified", "SubscriptionStarted", "EmailClicked"),
              ALWAYS));

  /** five-stage.json's inactivity rules with their thresholds (`inactivity.atRisk`, `inactivity.lapsed`). */
  static final List<InactivityRule> INACTIVITY_RULES =
      List.of(
          new InactivityRule(
              "inactive-at-risk", Set.of("conversion", "retention", "loyalty", "reactivated"), "at_risk", 2, 30),
          new InactivityRule("inactive-lapsed", Set.of("at_risk"), "lapsed", 4, 90));

  private FiveStageModel() {}

  /** The event rule that fires for the state after a touchpoint of this type, or null. */
  static EventRule decideOnEvent(CustomerState s, String type) {
    for (EventRule r : EVENT_RULES) if (r.fires(s, type)) return r;
    return null;
  }

  /** The next inactivity change due for this customer in its current stage, or null. */
  static Deadline nextDeadline(CustomerState s) {
    if (!s.hasPurchased()) return null;
    for (InactivityRule r : INACTIVITY_RULES) {
      if (!r.from().contains(s.stage) || r.to().equals(s.stage)) continue;
      double cadence = s.purchaseCadenceDays();
      double cadenceDays = Double.isNaN(cadence) ? DEFAULT_CADENCE_DAYS : cadence;
      // The same double arithmetic and rounding (half up) as rules.ts, so deadlines agree to the millisecond.
      double days = Math.max(r.minDays(), r.multiple() * cadenceDays);
      return new Deadline(r, s.lastPurchaseAt + Math.round(days * DAY_MS));
    }
    return null;
  }
}
