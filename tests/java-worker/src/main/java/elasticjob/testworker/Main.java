package elasticjob.testworker;

import java.io.FileOutputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.apache.shardingsphere.elasticjob.api.JobConfiguration;
import org.apache.shardingsphere.elasticjob.api.ShardingContext;
import org.apache.shardingsphere.elasticjob.infra.env.IpUtils;
import org.apache.shardingsphere.elasticjob.lite.api.bootstrap.impl.ScheduleJobBootstrap;
import org.apache.shardingsphere.elasticjob.reg.base.CoordinatorRegistryCenter;
import org.apache.shardingsphere.elasticjob.reg.zookeeper.ZookeeperConfiguration;
import org.apache.shardingsphere.elasticjob.reg.zookeeper.ZookeeperRegistryCenter;
import org.apache.shardingsphere.elasticjob.simple.job.SimpleJob;
import org.quartz.impl.SchedulerRepository;

/**
 * A real Apache ElasticJob-Lite worker for the mixed-cluster tests. It takes
 * the same flags as the Rust test worker (a subset) and writes the same
 * execution ledger: one JSON line when a handler starts an item and one when
 * it ends.
 *
 * <p>ElasticJob hands a handler no fire time, so the worker reads it from
 * the job's own Quartz scheduler ({@link FireClock}): a run of a cron fire
 * names that fire's scheduled time, also when it starts late (held up by a
 * resharding); a misfire re-run is written once for every fire it stands
 * for. A run that takes over a crashed instance's item
 * ({@code sharding/{i}/failover} names this instance) or runs under a
 * one-shot trigger cannot know its fire; it is written with
 * {@code "fire": -1}, and the checker matches it to the crashed run.
 * Every line but a cron run's says which kind it is ({@code "reason"}).
 *
 * <p>Usage: {@code java -jar java-worker.jar --zk HOST:PORT --namespace NS
 * --job NAME --items N --cron EXPR --ledger FILE [--sleep-ms MS]
 * [--session-timeout-ms MS] [--failover true|false] [--misfire true|false]
 * [--overwrite true|false] [--max-time-diff-seconds S] [--full-config true]}
 * ({@code --full-config} sets every field away from its default;
 * {@code --max-time-diff-seconds} turns the clock check on, as the
 * benchmark runs every worker). Prints
 * {@code ready <instance-id>} once scheduled; SIGTERM shuts down.
 */
public final class Main {

    private Main() {
    }

    public static void main(final String[] args) throws Exception {
        Map<String, String> opts = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            opts.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        ZookeeperConfiguration zk = new ZookeeperConfiguration(required(opts, "zk"), required(opts, "namespace"));
        int sessionTimeout = Integer.parseInt(opts.getOrDefault("session-timeout-ms", "2000"));
        zk.setSessionTimeoutMilliseconds(sessionTimeout);
        zk.setConnectionTimeoutMilliseconds(Math.max(sessionTimeout, 2000));
        CoordinatorRegistryCenter registry = new ZookeeperRegistryCenter(zk);
        registry.init();
        String jobName = required(opts, "job");
        JobConfiguration.Builder builder = JobConfiguration.newBuilder(jobName, Integer.parseInt(required(opts, "items")))
                .cron(required(opts, "cron"))
                .failover(Boolean.parseBoolean(opts.getOrDefault("failover", "true")))
                .misfire(Boolean.parseBoolean(opts.getOrDefault("misfire", "true")))
                .overwrite(Boolean.parseBoolean(opts.getOrDefault("overwrite", "true")))
                .maxTimeDiffSeconds(Integer.parseInt(opts.getOrDefault("max-time-diff-seconds", "-1")));
        if (Boolean.parseBoolean(opts.getOrDefault("full-config", "false"))) {
            // Every field set away from its default, for the config round-trip test.
            builder.description("written by Java").jobParameter("java-parameter")
                    .shardingItemParameters("0=Beijing,1=Shanghai").timeZone("GMT+08:00")
                    .maxTimeDiffSeconds(30).reconcileIntervalMinutes(5).monitorExecution(true)
                    .jobShardingStrategyType("ODEVITY").jobExecutorServiceHandlerType("SINGLE_THREAD")
                    .jobErrorHandlerType("IGNORE").setProperty("custom.key", "custom value");
        }
        JobConfiguration config = builder.build();
        String instance = IpUtils.getIp() + "@-@" + ManagementFactory.getRuntimeMXBean().getName().split("@")[0];
        Ledger ledger = new Ledger(required(opts, "ledger"), instance);
        long sleep = Long.parseLong(opts.getOrDefault("sleep-ms", "100"));
        FireClock clock = new FireClock(registry, jobName, Integer.parseInt(required(opts, "items")), instance);
        SimpleJob job = ctx -> {
            String failoverNode = "/" + jobName + "/sharding/" + ctx.getShardingItem() + "/failover";
            boolean failover = instance.equals(registry.get(failoverNode));
            FireClock.Call call = clock.call(ctx.getShardingItem());
            String kind = failover ? "failover" : call.kind();
            List<Long> fires = failover || call.fires().isEmpty() ? List.of(-1L) : call.fires();
            ledger.append("start", ctx, fires, kind);
            try {
                Thread.sleep(sleep);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            ledger.append("end", ctx, fires, kind);
        };
        ScheduleJobBootstrap bootstrap = new ScheduleJobBootstrap(registry, job, config);
        bootstrap.schedule();
        // ElasticJob names its Quartz scheduler after the job (one scheduler per job).
        SchedulerRepository.getInstance().lookup(jobName).getListenerManager().addTriggerListener(clock);
        System.out.println("ready " + instance);
        System.out.flush();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            bootstrap.shutdown();
            registry.close();
            stopped.countDown();
        }));
        stopped.await();
    }

    private static String required(final Map<String, String> opts, final String key) {
        String value = opts.get(key);
        if (value == null) {
            throw new IllegalArgumentException("missing --" + key);
        }
        return value;
    }

    /** The execution ledger: JSON lines appended with one write each. */
    private static final class Ledger {

        private final FileOutputStream out;

        private final String instance;

        Ledger(final String path, final String instance) throws IOException {
            this.out = new FileOutputStream(path, true);
            this.instance = instance;
        }

        /**
         * One line per fire the call stands for; every line but a cron run's
         * names its kind ({@code "reason"}): {@code failover}, {@code rerun}
         * or {@code one-shot}.
         */
        synchronized void append(final String phase, final ShardingContext ctx, final List<Long> fires, final String kind) {
            String reason = "cron".equals(kind) ? "" : ",\"reason\":\"" + kind + "\"";
            StringBuilder lines = new StringBuilder();
            for (long fire : fires) {
                lines.append(String.format("{\"phase\":\"%s\",\"job\":\"%s\",\"item\":%d,\"fire\":%d,\"instance\":\"%s\",\"lang\":\"java\",\"at\":%d,\"token\":0%s}%n",
                        phase, ctx.getJobName(), ctx.getShardingItem(), fire, instance, System.currentTimeMillis(), reason));
            }
            String line = lines.toString();
            try {
                out.write(line.getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new IllegalStateException("cannot write the ledger", e);
            }
        }
    }
}
