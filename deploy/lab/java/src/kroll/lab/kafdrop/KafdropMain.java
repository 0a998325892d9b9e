package kroll.lab.kafdrop;

import java.nio.file.Path;
import java.util.List;
import kroll.lab.common.Daemon;
import kroll.lab.common.HttpService;
import kroll.lab.common.HttpService.Response;
import kroll.lab.common.Json;
import kroll.lab.common.LabVersion;
import kroll.lab.common.Log;
import kroll.lab.common.Props;
import kroll.lab.kafka.Cluster;
import kroll.lab.kafka.KafkaClient;
import kroll.lab.kafka.KafkaException;

/**
 * The lab's Kafdrop stand-in: an HTML overview of brokers and topics at the context path, and
 * {@code /actuator/health} ({@code UP} when the brokers answer, {@code DOWN} with 503 otherwise).
 * Usage: {@code java -cp lab-kafdrop.jar kroll.lab.kafdrop.KafdropMain <kafdrop.properties>}.
 */
public final class KafdropMain {
    private static final Log LOG = Log.get(KafdropMain.class);

    private KafdropMain() {}

    static String esc(String s) {
        return s == null ? "" : s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    static String page(Cluster c, String version) {
        StringBuilder b = new StringBuilder("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Kafdrop: Broker List</title></head><body>\n");
        b.append("<h1>Kafka Cluster Overview</h1>\n<p>Cluster ID: <span id=\"cluster-id\">").append(esc(c.clusterId))
                .append("</span> &middot; lab Kafdrop on platform ").append(esc(version)).append("</p>\n");
        b.append("<h2>Brokers</h2>\n<table id=\"brokers\"><tr><th>ID</th><th>Host</th><th>Port</th><th>Controller</th></tr>\n");
        for (Cluster.Node n : c.brokers.values()) {
            b.append("<tr><td>").append(n.id).append("</td><td>").append(esc(n.host)).append("</td><td>").append(n.port)
                    .append("</td><td>").append(n.id == c.controllerId ? "Yes" : "No").append("</td></tr>\n");
        }
        b.append("</table>\n<h2>Topics</h2>\n<table id=\"topics\"><tr><th>Name</th><th>Partitions</th><th>Under-replicated</th></tr>\n");
        List<Cluster.Topic> topics = new java.util.ArrayList<>(c.topics.values());
        topics.sort((x, y) -> x.name.compareTo(y.name));
        for (Cluster.Topic t : topics) {
            int under = 0;
            for (Cluster.Partition p : t.partitions) if (p.isr.length < p.replicas.length) under++;
            b.append("<tr><td>").append(esc(t.name)).append("</td><td>").append(t.partitions.size()).append("</td><td>")
                    .append(under).append("</td></tr>\n");
        }
        return b.append("</table>\n</body></html>\n").toString();
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) Daemon.die("usage: KafdropMain <kafdrop.properties>");
        Props p = Props.load(Path.of(args[0]));
        LabVersion version = LabVersion.load();
        String bootstrap = p.get("kafka.brokerConnect", "localhost:9092");
        int port = p.getInt("server.port", 9000);
        int mgmt = p.getInt("management.server.port", port);
        String ctx = p.get("server.servlet.context-path", "/").replaceAll("/+$", "");
        KafkaClient kafka = new KafkaClient(bootstrap, "kafdrop", 10_000);
        LOG.info("Kafdrop (lab) starting on port " + port + ", brokerConnect=" + bootstrap);
        HttpService.Handler health = r -> {
            try {
                kafka.metadata(List.of(), false);
                return Response.ok(Json.obj("status", "UP"));
            } catch (KafkaException e) {
                kafka.invalidate(null);
                return Response.json(503, Json.obj("status", "DOWN", "details", Json.obj("kafka", e.getMessage())));
            }
        };
        HttpService http = new HttpService("kafdrop", "application/json");
        http.route("GET", ctx.isEmpty() ? "/" : ctx, r -> {
            try {
                return Response.text(200, page(kafka.metadata(null, false), version.platform), "text/html;charset=UTF-8");
            } catch (KafkaException e) {
                kafka.invalidate(null);
                return Response.text(500, "<html><body><h1>Error</h1><p>" + esc(e.getMessage()) + "</p></body></html>", "text/html;charset=UTF-8");
            }
        });
        if (mgmt == port) http.route("GET", ctx + "/actuator/health", health);
        http.start("http://0.0.0.0:" + port);
        HttpService mgmtHttp = null;
        if (mgmt != port) {
            mgmtHttp = new HttpService("kafdrop-mgmt", "application/json");
            mgmtHttp.route("GET", "/actuator/health", health);
            mgmtHttp.start("http://0.0.0.0:" + mgmt);
        }
        LOG.info("Started Kafdrop");
        HttpService m = mgmtHttp;
        Daemon.parkForever(() -> {
            http.stop();
            if (m != null) m.stop();
            kafka.close();
        });
    }
}
