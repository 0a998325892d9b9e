package kroll.lab.rest;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import kroll.lab.common.Daemon;
import kroll.lab.common.HttpError;
import kroll.lab.common.HttpService;
import kroll.lab.common.HttpService.Request;
import kroll.lab.common.HttpService.Response;
import kroll.lab.common.Json;
import kroll.lab.common.LabVersion;
import kroll.lab.common.Log;
import kroll.lab.common.Props;
import kroll.lab.common.RestSecurity;
import kroll.lab.kafka.Cluster;
import kroll.lab.kafka.KafkaClient;
import kroll.lab.kafka.KafkaException;

/**
 * The lab's REST Proxy stand-in: {@code GET /}, v2 {@code GET /topics} and {@code GET /brokers},
 * v3 {@code GET /v3/clusters[/{id}[/brokers|/topics]]}, all from live broker metadata.
 * Usage: {@code java -cp lab-rest.jar kroll.lab.rest.RestProxyMain <kafka-rest.properties>}.
 */
public final class RestProxyMain {
    private static final Log LOG = Log.get(RestProxyMain.class);

    private final KafkaClient kafka;
    private final String base;

    private RestProxyMain(KafkaClient kafka, String base) {
        this.kafka = kafka;
        this.base = base;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) Daemon.die("usage: RestProxyMain <kafka-rest.properties>");
        Props p = Props.load(Path.of(args[0]));
        LabVersion version = LabVersion.load();
        String bootstrap = p.get("bootstrap.servers", "");
        if (bootstrap.isEmpty()) Daemon.die("KAFKA_REST_BOOTSTRAP_SERVERS is required.");
        String listeners = p.get("listeners", "http://0.0.0.0:8082");
        String host = p.get("host.name", "rest-proxy");
        int port = java.net.URI.create(listeners.split(",")[0].trim()).getPort();
        LOG.info("Kafka REST Proxy (lab) " + version.platform + " starting; bootstrap.servers=" + bootstrap);
        KafkaClient kafka = new KafkaClient(bootstrap, "kafka-rest-" + host, 10_000);
        RestProxyMain app = new RestProxyMain(kafka, "http://" + host + ":" + port);
        HttpService http = new HttpService("kafka-rest", "application/json");
        http.route("GET", "/", r -> Response.ok(Json.obj()))
            .route("GET", "/topics", r -> Response.ok(app.topicNames()))
            .route("GET", "/brokers", r -> Response.ok(Json.obj("brokers", new ArrayList<>(app.cluster().brokers.keySet()))))
            .route("GET", "/v3/clusters", r -> app.clusters())
            .route("GET", "/v3/clusters/{c}", r -> Response.ok(app.clusterDoc(app.cluster(r))))
            .route("GET", "/v3/clusters/{c}/brokers", app::brokers)
            .route("GET", "/v3/clusters/{c}/topics", app::topics);
        RestSecurity security;
        try {
            security = RestSecurity.restUtils(p, "KafkaRest");
        } catch (Exception e) {
            Daemon.die("ERROR Server died unexpectedly: " + e.getMessage());
            return;
        }
        http.start(listeners, security);
        LOG.info("Server started, listening for requests...");
        Daemon.parkForever(() -> {
            http.stop();
            kafka.close();
        });
    }

    private Cluster cluster() {
        try {
            return kafka.metadata(null, false);
        } catch (KafkaException e) {
            kafka.invalidate(null);
            throw new HttpError(500, 50002, "Kafka error: " + e.getMessage());
        }
    }

    private Cluster cluster(Request r) {
        Cluster c = cluster();
        if (!r.param("c").equals(c.clusterId)) throw new HttpError(404, 40403, "Cluster " + r.param("c") + " cannot be found.");
        return c;
    }

    private List<String> topicNames() {
        List<String> out = new ArrayList<>();
        for (Cluster.Topic t : cluster().topics.values()) if (!t.internal) out.add(t.name);
        out.sort(null);
        return out;
    }

    private static Map<String, Object> related(String url) { return Json.obj("related", url); }

    private Map<String, Object> clusterDoc(Cluster c) {
        String self = base + "/v3/clusters/" + c.clusterId;
        return Json.obj("kind", "KafkaCluster",
                "metadata", Json.obj("self", self, "resource_name", "crn:///kafka=" + c.clusterId),
                "cluster_id", c.clusterId,
                "controller", c.controllerId < 0 ? null : related(self + "/brokers/" + c.controllerId),
                "acls", related(self + "/acls"),
                "brokers", related(self + "/brokers"),
                "broker_configs", related(self + "/broker-configs"),
                "consumer_groups", related(self + "/consumer-groups"),
                "topics", related(self + "/topics"),
                "partition_reassignments", related(self + "/topics/-/partitions/-/reassignment"));
    }

    private Response clusters() {
        Cluster c = cluster();
        return Response.ok(Json.obj("kind", "KafkaClusterList",
                "metadata", Json.obj("self", base + "/v3/clusters", "next", null),
                "data", List.of(clusterDoc(c))));
    }

    private Response brokers(Request r) {
        Cluster c = cluster(r);
        String self = base + "/v3/clusters/" + c.clusterId + "/brokers";
        List<Object> data = new ArrayList<>();
        for (Cluster.Node n : c.brokers.values()) {
            data.add(Json.obj("kind", "KafkaBroker",
                    "metadata", Json.obj("self", self + "/" + n.id, "resource_name", "crn:///kafka=" + c.clusterId + "/broker=" + n.id),
                    "cluster_id", c.clusterId, "broker_id", n.id, "host", n.host, "port", n.port, "rack", n.rack));
        }
        return Response.ok(Json.obj("kind", "KafkaBrokerList", "metadata", Json.obj("self", self, "next", null), "data", data));
    }

    private Response topics(Request r) {
        Cluster c = cluster(r);
        String self = base + "/v3/clusters/" + c.clusterId + "/topics";
        List<Object> data = new ArrayList<>();
        for (Cluster.Topic t : c.topics.values()) {
            int rf = t.partitions.isEmpty() ? 0 : t.partitions.get(0).replicas.length;
            data.add(Json.obj("kind", "KafkaTopic",
                    "metadata", Json.obj("self", self + "/" + t.name, "resource_name", "crn:///kafka=" + c.clusterId + "/topic=" + t.name),
                    "cluster_id", c.clusterId, "topic_name", t.name, "is_internal", t.internal,
                    "replication_factor", rf, "partitions_count", t.partitions.size(),
                    "partitions", related(self + "/" + t.name + "/partitions")));
        }
        return Response.ok(Json.obj("kind", "KafkaTopicList", "metadata", Json.obj("self", self, "next", null), "data", data));
    }
}
