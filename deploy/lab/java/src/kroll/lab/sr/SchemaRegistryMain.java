package kroll.lab.sr;

import java.nio.file.Path;
import java.util.Locale;
import kroll.lab.common.Daemon;
import kroll.lab.common.HttpService;
import kroll.lab.common.LabVersion;
import kroll.lab.common.Log;
import kroll.lab.common.Props;
import kroll.lab.common.RestSecurity;

/**
 * The lab's Schema Registry. Usage: {@code java -jar lab-schema-registry.jar <schema-registry.properties>}
 * (the entrypoint writes the file from {@code SCHEMA_REGISTRY_*}).
 */
public final class SchemaRegistryMain {
    private static final Log LOG = Log.get(SchemaRegistryMain.class);

    private SchemaRegistryMain() {}

    private static RestSecurity security(Props p) {
        try {
            return RestSecurity.restUtils(p, "SchemaRegistry");
        } catch (Exception e) {
            Daemon.die("ERROR Server died unexpectedly: " + e.getMessage());
            return null;
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) Daemon.die("usage: lab-schema-registry <schema-registry.properties>");
        Props p = Props.load(Path.of(args[0]));
        LabVersion version = LabVersion.load();
        if (p.get("kafkastore.bootstrap.servers", "").isEmpty()) {
            Daemon.die("SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS is required.");
        }
        String level = p.get("schema.compatibility.level", p.get("avro.compatibility.level", "backward")).toUpperCase(Locale.ROOT);
        if (!RegistryApi.LEVELS.contains(level)) Daemon.die("Invalid compatibility level " + level);
        LOG.info("Schema Registry (lab) version " + version.platform + " starting; host.name=" + p.get("host.name", "")
                + ", kafkastore.bootstrap.servers=" + p.get("kafkastore.bootstrap.servers"));
        SchemaStore store = new SchemaStore(Path.of(p.get("lab.data.dir", "/var/lib/schema-registry")), level);
        HttpService http = new HttpService("schema-registry", "application/vnd.schemaregistry.v1+json");
        new RegistryApi(store).install(http);
        http.start(p.get("listeners", "http://0.0.0.0:8081"), security(p));
        LOG.info("Server started, listening for requests...");
        Daemon.parkForever(() -> {
            LOG.info("Shutting down Schema Registry");
            http.stop();
            try {
                synchronized (store) {
                    store.close();
                }
            } catch (Exception e) {
                LOG.warn("closing store: " + e);
            }
        });
    }
}
