package kroll.lab.test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import kroll.lab.connect.ConfigProviders;
import kroll.lab.connect.Converters;

/** Kafka's FileConfigProvider variables and the Schema Registry client's basic auth settings. */
public class ConfigProviderTest implements AutoCloseable {
    private final LabHome lab;

    public ConfigProviderTest() throws Exception {
        lab = new LabHome("7.7.1");
    }

    @Override
    public void close() throws Exception { lab.close(); }

    private static Map<String, String> map(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
        return m;
    }

    private static final Map<String, String> WORKER = map("config.providers", "file",
            "config.providers.file.class", ConfigProviders.FILE);

    public void testFileVariablesResolveLikeKafkasConfigTransformer() throws Exception {
        Path secret = lab.dir("secrets").resolve("sr.properties");
        Files.writeString(secret, "basic.auth.user.info=connect:s3cret\nother=x\n");
        ConfigProviders p = ConfigProviders.of(WORKER);
        Map<String, String> out = p.transform(map(
                "a", "${file:" + secret + ":basic.auth.user.info}",
                "b", "pre-${file:" + secret + ":other}-post",
                "c", "${file:" + secret + ":missing}",
                "d", "${vault:" + secret + ":other}",
                "e", "plain"));
        Check.eq("connect:s3cret", out.get("a"), "a variable of the file");
        Check.eq("pre-x-post", out.get("b"), "text around a variable is kept");
        Check.eq("${file:" + secret + ":missing}", out.get("c"), "a key the file lacks stays a variable");
        Check.eq("${vault:" + secret + ":other}", out.get("d"), "an unconfigured provider's variable stays");
        Check.eq("plain", out.get("e"), "plain values");
        Map<String, String> raw = map("a", "${file:" + secret + ":other}");
        Check.eq(raw, ConfigProviders.NONE.transform(raw), "no providers: nothing resolved");
        Check.eq(raw, ConfigProviders.of(map("config.providers", "file")).transform(raw), "an alias without a class is skipped");
        try {
            p.transform(map("a", "${file:" + lab.root.resolve("absent.properties") + ":k}"));
            throw new AssertionError("an unreadable file resolves");
        } catch (RuntimeException e) {
            Check.contains(e.toString(), "org.apache.kafka.common.config.ConfigException: Could not read properties from file", "Kafka's words");
        }
        try {
            ConfigProviders.of(map("config.providers", "env", "config.providers.env.class", "org.apache.kafka.common.config.provider.EnvVarConfigProvider"));
            throw new AssertionError("an unknown provider class is accepted");
        } catch (IllegalArgumentException e) {
            Check.contains(e.getMessage(), "config.providers.env.class", "names the key");
        }
    }

    private static String basic(String userInfo) {
        return "Basic " + Base64.getEncoder().encodeToString(userInfo.getBytes(StandardCharsets.UTF_8));
    }

    public void testSchemaRegistryBasicAuthFromUserInfoOrUrl() {
        String url = "http://schema-registry:8081";
        Check.eq(basic("connect:pw"), Converters.basicAuth(map("basic.auth.credentials.source", "USER_INFO",
                "basic.auth.user.info", "connect:pw"), url), "USER_INFO");
        Check.eq(basic("connect:pw"), Converters.basicAuth(map("basic.auth.credentials.source", "USER_INFO",
                "schema.registry.basic.auth.user.info", "connect:pw"), url), "the older key");
        Check.eq(null, Converters.basicAuth(map(), url), "URL (the default) without user info: none");
        Check.eq(basic("u:p@ss"), Converters.basicAuth(map(), "http://u:p%40ss@schema-registry:8081"), "URL's user info");
        Check.eq("http://schema-registry:8081", Converters.withoutUserInfo("http://u:p%40ss@schema-registry:8081"), "never sent in the URL");
        Check.eq(url, Converters.withoutUserInfo(url), "a URL without user info");
        try {
            Converters.basicAuth(map("basic.auth.credentials.source", "SASL_INHERIT"), url);
            throw new AssertionError("SASL_INHERIT accepted");
        } catch (RuntimeException e) {
            Check.contains(e.toString(), "Unknown basic auth credential source provided: SASL_INHERIT", "Confluent's words");
        }
    }
}
