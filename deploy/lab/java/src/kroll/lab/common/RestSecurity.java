package kroll.lab.common;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import javax.security.auth.login.AppConfigurationEntry;
import javax.security.auth.login.Configuration;

/**
 * HTTPS and HTTP basic auth of a lab REST service, read from the service's properties the way
 * the Confluent services read them (simplified; see deploy/lab/LAB.md):
 * <ul>
 *   <li>TLS: an {@code https://} listener with {@code ssl.keystore.location} /
 *       {@code .password} / {@code .type} (JKS, PKCS12 or PEM: a PKCS#8 key and its chain in one
 *       file), {@code ssl.key.password}, {@code ssl.truststore.*} and client authentication
 *       ({@code ssl.client.authentication=NONE|REQUESTED|REQUIRED} of Schema Registry and REST
 *       Proxy, older {@code ssl.client.auth=true}; Connect's {@code ssl.client.auth=required|requested|none},
 *       its keys optionally prefixed {@code listeners.https.}, which then wins whole);</li>
 *   <li>basic auth: a JAAS login configuration ({@code -Djava.security.auth.login.config}) whose
 *       section (Connect: {@code KafkaConnect}; Schema Registry / REST Proxy: their
 *       {@code authentication.realm}) names a password {@code file}: {@code user: password}
 *       lines, Jetty's {@code user: password,role,…} for Schema Registry / REST Proxy (checked
 *       against {@code authentication.roles}). The login module class is not loaded.</li>
 * </ul>
 */
public final class RestSecurity {
    private static final Log LOG = Log.get(RestSecurity.class);

    /** No TLS settings, no authentication. */
    public static final RestSecurity NONE = new RestSecurity(null, "none", null, null, Set.of());

    /** The TLS context of https listeners (null: https listeners are refused). */
    public final SSLContext ssl;
    /** none, requested or required. */
    public final String clientAuth;
    /** The realm of basic auth (null: none). */
    public final String realm;
    private final Map<String, User> users;
    private final Set<String> roles;

    private static final class User {
        final String password;
        final Set<String> roles;

        User(String password, Set<String> roles) {
            this.password = password;
            this.roles = roles;
        }
    }

    private RestSecurity(SSLContext ssl, String clientAuth, String realm, Map<String, User> users, Set<String> roles) {
        this.ssl = ssl;
        this.clientAuth = clientAuth;
        this.realm = realm;
        this.users = users;
        this.roles = roles;
    }

    /** Schema Registry and REST Proxy (rest-utils): {@code ssl.*} and {@code authentication.*}. */
    public static RestSecurity restUtils(Props p, String defaultRealm) throws IOException, GeneralSecurityException {
        String mode = p.get("ssl.client.authentication", p.getBool("ssl.client.auth", false) ? "REQUIRED" : "NONE");
        SSLContext ssl = sslContext(p, "ssl.");
        String realm = null;
        Map<String, User> users = null;
        Set<String> roles = Set.of();
        String method = p.get("authentication.method", "NONE").toUpperCase(Locale.ROOT);
        if (method.equals("BASIC")) {
            realm = p.get("authentication.realm", defaultRealm);
            users = passwordFile(realm, true);
            String r = p.get("authentication.roles", "*").trim();
            if (!r.equals("*")) roles = new HashSet<>(Arrays.asList(r.split("\\s*,\\s*")));
        } else if (!method.equals("NONE")) {
            throw new IllegalArgumentException("authentication.method " + method + " is not supported by the lab (BASIC or NONE)");
        }
        return new RestSecurity(ssl, mode.toLowerCase(Locale.ROOT), realm, users, roles);
    }

    /** A Connect worker: {@code [listeners.https.]ssl.*} and {@code rest.extension.classes}. */
    public static RestSecurity connect(Props p) throws IOException, GeneralSecurityException {
        boolean prefixed = p.asMap().keySet().stream().anyMatch(k -> k.startsWith("listeners.https.ssl."));
        String prefix = prefixed ? "listeners.https.ssl." : "ssl.";
        SSLContext ssl = sslContext(p, prefix);
        String mode = p.get(prefix + "client.auth", "none").toLowerCase(Locale.ROOT);
        String realm = null;
        Map<String, User> users = null;
        String ext = p.get("rest.extension.classes", "");
        if (ext.contains("org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension")) {
            realm = "KafkaConnect";
            users = passwordFile(realm, false);
        } else if (!ext.isBlank()) {
            throw new IllegalArgumentException("rest.extension.classes " + ext + ": the lab knows only BasicAuthSecurityRestExtension");
        }
        return new RestSecurity(ssl, mode, realm, users, Set.of());
    }

    /** What a request's {@code Authorization} header is worth: 0 = allowed, else 401 or 403. */
    public int check(String authorization) {
        if (realm == null) return 0;
        if (authorization == null || !authorization.regionMatches(true, 0, "Basic ", 0, 6)) return 401;
        String decoded;
        try {
            decoded = new String(Base64.getDecoder().decode(authorization.substring(6).trim()), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return 401;
        }
        int colon = decoded.indexOf(':');
        if (colon < 0) return 401;
        User u = users.get(decoded.substring(0, colon));
        if (u == null || !u.password.equals(decoded.substring(colon + 1))) return 401;
        if (!roles.isEmpty() && u.roles.stream().noneMatch(roles::contains)) return 403;
        return 0;
    }

    /** The user of a request's {@code Authorization} header (for logs), or null. */
    public static String user(String authorization) {
        if (authorization == null || !authorization.regionMatches(true, 0, "Basic ", 0, 6)) return null;
        try {
            String d = new String(Base64.getDecoder().decode(authorization.substring(6).trim()), StandardCharsets.UTF_8);
            int colon = d.indexOf(':');
            return colon < 0 ? null : d.substring(0, colon);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static Map<String, User> passwordFile(String realm, boolean withRoles) throws IOException {
        if (System.getProperty("java.security.auth.login.config") == null) {
            throw new IllegalArgumentException("basic auth needs a JAAS file: -Djava.security.auth.login.config=<file> with a "
                    + realm + " { … file=\"<password file>\"; } section");
        }
        AppConfigurationEntry[] entries = Configuration.getConfiguration().getAppConfigurationEntry(realm);
        if (entries == null || entries.length == 0) {
            throw new IllegalArgumentException("the JAAS file " + System.getProperty("java.security.auth.login.config")
                    + " has no section " + realm);
        }
        Object file = entries[0].getOptions().get("file");
        if (file == null) throw new IllegalArgumentException("the JAAS section " + realm + " names no file=\"…\"");
        Properties raw = new Properties();
        try (Reader r = Files.newBufferedReader(Path.of(file.toString()), StandardCharsets.UTF_8)) {
            raw.load(r);
        }
        Map<String, User> out = new HashMap<>();
        for (String name : raw.stringPropertyNames()) {
            String v = raw.getProperty(name).trim();
            Set<String> userRoles = new HashSet<>();
            if (withRoles) {
                String[] parts = v.split(",");
                v = parts[0].trim();
                for (int i = 1; i < parts.length; i++) userRoles.add(parts[i].trim());
            }
            out.put(name, new User(v, userRoles));
        }
        LOG.info("Basic auth in realm " + realm + " with " + out.size() + " user(s) from " + file);
        return out;
    }

    private static SSLContext sslContext(Props p, String prefix) throws IOException, GeneralSecurityException {
        String location = p.get(prefix + "keystore.location", "");
        if (location.isEmpty()) return null;
        String type = p.get(prefix + "keystore.type", "JKS");
        // A PEM key goes into an in-memory store under a password of the lab's own.
        boolean pem = type.equalsIgnoreCase("PEM");
        char[] storePass = pem ? PEM_PASS : p.get(prefix + "keystore.password", "").toCharArray();
        char[] keyPass = pem ? PEM_PASS : p.get(prefix + "key.password", new String(storePass)).toCharArray();
        KeyStore ks = load(Path.of(location), type, storePass, true);
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, keyPass);
        TrustManagerFactory tmf = null;
        String trust = p.get(prefix + "truststore.location", "");
        if (!trust.isEmpty()) {
            KeyStore ts = load(Path.of(trust), p.get(prefix + "truststore.type", "JKS"),
                    p.get(prefix + "truststore.password", "").toCharArray(), false);
            tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ts);
        }
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), tmf == null ? null : tmf.getTrustManagers(), null);
        return ctx;
    }

    private static final char[] PEM_PASS = "lab-pem".toCharArray();

    private static final Pattern PEM = Pattern.compile("-----BEGIN ([A-Z ]+)-----([^-]+)-----END \\1-----");

    private static KeyStore load(Path file, String type, char[] pass, boolean withKey) throws IOException, GeneralSecurityException {
        if (!type.equalsIgnoreCase("PEM")) {
            KeyStore ks = KeyStore.getInstance(type.toUpperCase(Locale.ROOT));
            try (InputStream in = Files.newInputStream(file)) {
                ks.load(in, pass);
            }
            return ks;
        }
        List<Certificate> certs = new ArrayList<>();
        PrivateKey key = null;
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        Matcher m = PEM.matcher(Files.readString(file, StandardCharsets.US_ASCII));
        while (m.find()) {
            byte[] der = Base64.getMimeDecoder().decode(m.group(2));
            if (m.group(1).equals("CERTIFICATE")) {
                certs.add(cf.generateCertificate(new java.io.ByteArrayInputStream(der)));
            } else if (m.group(1).equals("PRIVATE KEY")) {
                key = pkcs8(der);
            } else {
                throw new IllegalArgumentException(file + ": PEM block " + m.group(1)
                        + " is not supported by the lab (an unencrypted PKCS#8 PRIVATE KEY and CERTIFICATEs)");
            }
        }
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        if (withKey) {
            if (key == null || certs.isEmpty()) throw new IllegalArgumentException(file + ": needs a PRIVATE KEY and its CERTIFICATE chain");
            ks.setKeyEntry("key", key, pass, certs.toArray(new Certificate[0]));
        } else {
            for (int i = 0; i < certs.size(); i++) ks.setCertificateEntry("ca-" + i, certs.get(i));
        }
        return ks;
    }

    private static PrivateKey pkcs8(byte[] der) throws GeneralSecurityException {
        GeneralSecurityException last = null;
        for (String alg : new String[] {"EC", "RSA", "Ed25519"}) {
            try {
                return KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(der));
            } catch (GeneralSecurityException e) {
                last = e;
            }
        }
        throw last;
    }
}
