package elasticjob.testworker;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableSet;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListSet;
import org.apache.shardingsphere.elasticjob.reg.base.CoordinatorRegistryCenter;
import org.quartz.CronTrigger;
import org.quartz.JobExecutionContext;
import org.quartz.Trigger;
import org.quartz.listeners.TriggerListenerSupport;

/**
 * Which cron fires an ElasticJob handler call stands for, read from the
 * job's Quartz scheduler and its misfire flags, so the ledger can judge
 * every Java run, late ones too.
 *
 * <p>ElasticJob runs a job on a Quartz scheduler of one thread: a trigger
 * fires, then the whole execution (every local item, then the misfire
 * re-runs, then a failover hand-off) runs on that thread before the next
 * trigger can fire. So the scheduled time seen in {@link #triggerFired} is
 * the fire of every first call per item until the next trigger fires.
 *
 * <p>A second call for the same item under one trigger is a misfire
 * re-run, for the item's misfire flag ({@code sharding/{i}/misfire}). The
 * flag is raised for the instance's items by a fire Quartz could not start
 * in time ({@link #triggerMisfired} runs after ElasticJob's own listener
 * raised it, and sees the trigger before Quartz moves it on, so its next
 * fire time is the missed one) or by a fire whose execution found them
 * still running and returned ({@link #triggerComplete} of a trigger that
 * called no handler). Each such fire is noted for the flagged items, and a
 * re-run is written once for every fire noted for its item. A one-shot
 * trigger (an operator's trigger, a failover hand-off) has no cron fire.
 */
final class FireClock extends TriggerListenerSupport {

    /** How many fires are kept per item. */
    private static final int KEPT = 64;

    private final CoordinatorRegistryCenter registry;

    private final String jobName;

    private final int items;

    private final String instance;

    /** The current trigger's fire, -1 for a one-shot trigger. */
    private volatile long scheduled = -1;

    /** Whether a handler was called under the current trigger. */
    private volatile boolean handled;

    /** Per item, fires its misfire flag stands for. */
    private final Map<Integer, NavigableSet<Long>> flagged = new ConcurrentHashMap<>();

    /** Per item, the fires it ran for here (the recent ones). */
    private final Map<Integer, NavigableSet<Long>> runs = new ConcurrentHashMap<>();

    /** Items already called under the current trigger. */
    private final Set<Integer> called = ConcurrentHashMap.newKeySet();

    FireClock(final CoordinatorRegistryCenter registry, final String jobName, final int items, final String instance) {
        this.registry = registry;
        this.jobName = jobName;
        this.items = items;
        this.instance = instance;
    }

    /** A call's fires (none for a one-shot trigger) and kind: {@code cron}, {@code rerun} or {@code one-shot}. */
    record Call(List<Long> fires, String kind) {
    }

    @Override
    public String getName() {
        return "ledger-fire-clock";
    }

    @Override
    public void triggerFired(final Trigger trigger, final JobExecutionContext context) {
        called.clear();
        handled = false;
        scheduled = trigger instanceof CronTrigger ? context.getScheduledFireTime().getTime() : -1;
    }

    @Override
    public void triggerMisfired(final Trigger trigger) {
        if (trigger instanceof CronTrigger && trigger.getNextFireTime() != null) {
            note(trigger.getNextFireTime().getTime());
        }
    }

    @Override
    public void triggerComplete(final Trigger trigger, final JobExecutionContext context,
                                final Trigger.CompletedExecutionInstruction instruction) {
        if (scheduled >= 0 && !handled) {
            note(scheduled);
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
            NavigableSet<Long> noted = flagged.remove(item);
            if (noted != null) {
                for (Long fire : noted) {
                    if (!ran.contains(fire)) {
                        fires.add(fire);
                    }
                }
            }
        }
        for (Long fire : fires) {
            keep(ran, fire);
        }
        return new Call(fires, kind);
    }

    /** Notes {@code fire} for every item of this instance whose misfire flag is up. */
    private void note(final long fire) {
        for (int item = 0; item < items; item++) {
            String base = "/" + jobName + "/sharding/" + item;
            if (instance.equals(registry.get(base + "/instance")) && registry.isExisted(base + "/misfire")) {
                keep(flagged.computeIfAbsent(item, i -> new ConcurrentSkipListSet<>()), fire);
            }
        }
    }

    private static void keep(final NavigableSet<Long> fires, final long fire) {
        fires.add(fire);
        while (fires.size() > KEPT) {
            fires.pollFirst();
        }
    }
}
