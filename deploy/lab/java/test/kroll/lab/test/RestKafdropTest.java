package kroll.lab.test;

import java.util.List;
import java.util.Map;
import kroll.lab.common.HttpJson;
import kroll.lab.common.Json;
import kroll.lab.kafka.KafkaClient;

/** The REST proxy and Kafdrop stand-ins, configured like the journal's stack. */
public class RestKafdropTest implements AutoCloseable {
    private final LabHome lab = new LabHome("7.7.1");
    private BrokerLab kafka;

    public RestKafdropTest() throws Exception {}

    @Override
    public void close() throws Exception {
        if (kafka != null) kafka.close();
        lab.close();
    }

    private Service rest(String bootstrap) throws Exception {
        int port = LabHome.freePort();
        return Service.start(lab, "rest", "rest.sh", Map.of(
                "KAFKA_REST_HOST_NAME", "rest-proxy",
                "KAFKA_REST_BOOTSTRAP_SERVERS", bootstrap,
                "KAFKA_REST_LISTENERS", "http://127.0.0.1:" + port,
                "KAFKA_REST_SCHEMA_REGISTRY_URL", "http://schema-registry:8081",
                "KAFKAREST_HEAP_OPTS", "-Xmx64m"), port).awaitHttp("/", 15_000);
    }

    private Service kafdrop(String bootstrap) throws Exception {
        int port = LabHome.freePort();
        return Service.start(lab, "kafdrop", "kafdrop.sh", Map.of(
                "KAFKA_BROKERCONNECT", bootstrap,
                "SERVER_SERVLET_CONTEXTPATH", "/",
                "JVM_OPTS", "-Xms64m -Xmx64m",
                "SERVER_PORT", String.valueOf(port),
                "MANAGEMENT_SERVER_PORT", String.valueOf(port),
                "SCHEMAREGISTRY_CONNECT", "http://schema-registry:8081"), port).awaitHttp("/actuator/health", 15_000);
    }

    public void testWithoutBrokers() throws Exception {
        Service r = rest("127.0.0.1:1");
        Check.eq("{}", r.call("GET", "/", null).body, "REST proxy root");
        HttpJson.Result c = r.call("GET", "/v3/clusters", null);
        Check.eq(500, c.status, "no brokers");
        Check.eq(50002L, Lab.obj(c).get("error_code"), "Kafka error code");
        Service k = kafdrop("127.0.0.1:1");
        HttpJson.Result h = k.call("GET", "/actuator/health", null);
        Check.eq(503, h.status, "health without brokers");
        Check.eq("DOWN", Lab.obj(h).get("status"), "DOWN");
    }

    public void testWithLabBrokers() throws Exception {
        BrokerLab.requireAvailable();
        kafka = new BrokerLab(lab, "3.7.1", 3);
        try (KafkaClient k = new KafkaClient(kafka.bootstrap(), "lab-test", 10_000)) {
            BrokerIntegrationTest.retry(20_000, () -> {
                k.createTopic("supernova.digikala.orders", 3, 3, Map.of());
                return null;
            });
        }
        Service r = rest(kafka.bootstrap());
        Map<String, Object> clusters = Lab.obj(r.call("GET", "/v3/clusters", null));
        Map<String, Object> first = Json.asObject(Json.asList(clusters.get("data")).get(0));
        String id = (String) first.get("cluster_id");
        Check.ok(id != null && !id.isEmpty(), "cluster id");
        Check.eq(3, Json.asList(Lab.obj(r.call("GET", "/v3/clusters/" + id + "/brokers", null)).get("data")).size(), "3 brokers");
        Check.eventually(10_000, "topic listed", () -> {
            try {
                return ((List<?>) r.call("GET", "/topics", null).json()).contains("supernova.digikala.orders");
            } catch (Exception e) {
                return false;
            }
        });
        Service kd = kafdrop(kafka.bootstrap());
        Check.eq(Json.obj("status", "UP"), kd.call("GET", "/actuator/health", null).json(), "health UP");
        String html = kd.call("GET", "/", null).body;
        Check.contains(html, "<td>supernova.digikala.orders</td><td>3</td>", "topic row");
        Check.contains(html, id, "cluster id on the page");
    }
}
