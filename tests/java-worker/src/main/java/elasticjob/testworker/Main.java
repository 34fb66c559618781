package elasticjob.testworker;

import java.io.FileOutputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
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

/**
 * A real Apache ElasticJob-Lite worker for the mixed-cluster tests. It takes
 * the same flags as the Rust test worker (a subset) and writes the same
 * execution ledger: one JSON line when a handler starts an item and one when
 * it ends.
 *
 * <p>ElasticJob hands a handler no fire time, so the worker derives it: the
 * start time floored to the cron period ({@code --period-ms}), for a run
 * that starts within {@code --late-ms} (250) of the period's start. A run
 * that takes over a crashed instance's item ({@code sharding/{i}/failover}
 * names this instance) or starts later (a misfire re-run, a fire held up
 * by resharding) cannot know its fire; it is written with
 * {@code "fire": -1}, and the checker matches it to a crashed run or
 * counts it apart.
 *
 * <p>Usage: {@code java -jar java-worker.jar --zk HOST:PORT --namespace NS
 * --job NAME --items N --cron EXPR --ledger FILE [--period-ms MS]
 * [--late-ms MS] [--sleep-ms MS] [--session-timeout-ms MS] [--failover true|false]
 * [--misfire true|false] [--overwrite true|false] [--full-config true]}
 * ({@code --full-config} sets every field away from its default). Prints
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
                .overwrite(Boolean.parseBoolean(opts.getOrDefault("overwrite", "true")));
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
        long period = Long.parseLong(opts.getOrDefault("period-ms", "1000"));
        long late = Long.parseLong(opts.getOrDefault("late-ms", "250"));
        long sleep = Long.parseLong(opts.getOrDefault("sleep-ms", "100"));
        SimpleJob job = ctx -> {
            long now = System.currentTimeMillis();
            String failoverNode = "/" + jobName + "/sharding/" + ctx.getShardingItem() + "/failover";
            boolean failover = instance.equals(registry.get(failoverNode));
            long fire = failover || now % period > late ? -1 : now - now % period;
            ledger.append("start", ctx, fire);
            try {
                Thread.sleep(sleep);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            ledger.append("end", ctx, fire);
        };
        ScheduleJobBootstrap bootstrap = new ScheduleJobBootstrap(registry, job, config);
        bootstrap.schedule();
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

        synchronized void append(final String phase, final ShardingContext ctx, final long fire) {
            String line = String.format("{\"phase\":\"%s\",\"job\":\"%s\",\"item\":%d,\"fire\":%d,\"instance\":\"%s\",\"lang\":\"java\",\"at\":%d,\"token\":0}%n",
                    phase, ctx.getJobName(), ctx.getShardingItem(), fire, instance, System.currentTimeMillis());
            try {
                out.write(line.getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new IllegalStateException("cannot write the ledger", e);
            }
        }
    }
}
