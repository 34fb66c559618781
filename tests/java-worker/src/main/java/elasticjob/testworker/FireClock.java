package elasticjob.testworker;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableSet;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListSet;
import org.quartz.CronTrigger;
import org.quartz.JobExecutionContext;
import org.quartz.Trigger;
import org.quartz.listeners.TriggerListenerSupport;

/**
 * Which cron fires an ElasticJob handler call stands for, read from the
 * job's Quartz scheduler, so the ledger can judge every Java run, late ones
 * too.
 *
 * <p>ElasticJob runs a job on a Quartz scheduler of one thread: a trigger
 * fires, then the whole execution (every local item, then the misfire
 * re-runs, then a failover hand-off) runs on that thread before the next
 * trigger can fire. So the scheduled time seen in {@link #triggerFired} is
 * the fire of every first call per item until the next trigger fires.
 *
 * <p>A second call for the same item under one trigger is a misfire
 * re-run. ElasticJob keeps one misfire flag per item and runs it once for
 * every fire it stands for: fires Quartz could not start in time
 * ({@link #triggerMisfired} sees the trigger before Quartz moves it on, so
 * its next fire time is the missed one) and fires whose execution called
 * no handler (ElasticJob found the items still running and returned). The
 * re-run is written once per such fire, as ElasticJob means it. A one-shot
 * trigger (an operator's trigger, a failover hand-off) has no cron fire.
 */
final class FireClock extends TriggerListenerSupport {

    /** How many fires are kept per set. */
    private static final int KEPT = 64;

    /** The current trigger's fire, -1 for a one-shot trigger. */
    private volatile long scheduled = -1;

    /** Whether a handler was called under the current trigger. */
    private volatile boolean handled;

    /** Whether a misfire re-run was called under the current trigger. */
    private volatile boolean rerun;

    /** Cron fires no handler was called for, since the last misfire re-runs. */
    private final NavigableSet<Long> missed = new ConcurrentSkipListSet<>();

    /** Per item, the fires it ran for here (the recent ones). */
    private final Map<Integer, NavigableSet<Long>> runs = new ConcurrentHashMap<>();

    /** Items already called under the current trigger. */
    private final Set<Integer> called = ConcurrentHashMap.newKeySet();

    /** A call's fires (none for a one-shot trigger) and kind: {@code cron}, {@code rerun} or {@code one-shot}. */
    record Call(List<Long> fires, String kind) {
    }

    @Override
    public String getName() {
        return "ledger-fire-clock";
    }

    @Override
    public void triggerFired(final Trigger trigger, final JobExecutionContext context) {
        if (rerun) {
            missed.clear();
        } else if (scheduled >= 0 && !handled) {
            keep(missed, scheduled);
        }
        called.clear();
        handled = false;
        rerun = false;
        scheduled = trigger instanceof CronTrigger ? context.getScheduledFireTime().getTime() : -1;
    }

    @Override
    public void triggerMisfired(final Trigger trigger) {
        if (trigger instanceof CronTrigger && trigger.getNextFireTime() != null) {
            keep(missed, trigger.getNextFireTime().getTime());
        }
    }

    /** The fires this call for {@code item} stands for. */
    Call call(final int item) {
        handled = true;
        NavigableSet<Long> ran = runs.computeIfAbsent(item, i -> new ConcurrentSkipListSet<>());
        List<Long> fires = new ArrayList<>();
        String kind;
        if (called.add(item)) {
            kind = scheduled >= 0 ? "cron" : "one-shot";
            if (scheduled >= 0) {
                fires.add(scheduled);
            }
        } else {
            kind = "rerun";
            rerun = true;
            for (Long fire : missed) {
                if (!ran.contains(fire)) {
                    fires.add(fire);
                }
            }
        }
        for (Long fire : fires) {
            keep(ran, fire);
        }
        return new Call(fires, kind);
    }

    private static void keep(final NavigableSet<Long> fires, final long fire) {
        fires.add(fire);
        while (fires.size() > KEPT) {
            fires.pollFirst();
        }
    }
}
