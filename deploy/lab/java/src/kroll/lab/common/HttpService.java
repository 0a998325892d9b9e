package kroll.lab.common;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.net.ssl.SSLParameters;

/**
 * A small REST server on com.sun.net.httpserver: routes like {@code GET /subjects/{s}/versions}
 * with path parameters, JSON bodies and errors shaped {@code {"error_code":…,"message":…}};
 * {@code http://} and {@code https://} listeners, HTTP basic auth ({@link RestSecurity}).
 */
public final class HttpService {
    private static final Log LOG = Log.get(HttpService.class);

    /** What a handler sees. */
    public static final class Request {
        public final String method;
        public final String path;
        public final Map<String, String> params = new LinkedHashMap<>();
        public final Map<String, String> query;
        public final String body;
        public final HttpExchange exchange;

        Request(String method, String path, Map<String, String> query, String body, HttpExchange ex) {
            this.method = method;
            this.path = path;
            this.query = query;
            this.body = body;
            this.exchange = ex;
        }

        public String param(String n) { return params.get(n); }

        public String query(String n) { return query.get(n); }

        public boolean queryFlag(String n) {
            String v = query.get(n);
            return v != null && (v.isEmpty() || Boolean.parseBoolean(v));
        }

        public Map<String, Object> jsonBody() {
            if (body == null || body.isBlank()) throw new HttpError(400, "Request body is empty");
            try {
                return Json.parseObject(body);
            } catch (Json.ParseException e) {
                throw new HttpError(400, "Unrecognized or malformed JSON: " + e.getMessage());
            }
        }
    }

    /** What a handler answers: status, a JSON value (or raw text) and its content type. */
    public static final class Response {
        public final int status;
        public final Object json;
        public final String text;
        public final String contentType;

        private Response(int status, Object json, String text, String contentType) {
            this.status = status;
            this.json = json;
            this.text = text;
            this.contentType = contentType;
        }

        public static Response json(int status, Object v) { return new Response(status, v, null, null); }

        public static Response ok(Object v) { return json(200, v); }

        public static Response noContent() { return new Response(204, null, null, null); }

        public static Response text(int status, String text, String contentType) {
            return new Response(status, null, text, contentType);
        }
    }

    @FunctionalInterface
    public interface Handler {
        Response handle(Request r) throws Exception;
    }

    private static final class Route {
        final String method;
        final String[] segs;
        final Handler h;

        Route(String method, String pattern, Handler h) {
            this.method = method;
            this.segs = split(pattern);
            this.h = h;
        }
    }

    private final List<Route> routes = new ArrayList<>();
    private final String contentType;
    private final String name;
    private final List<HttpServer> servers = new ArrayList<>();
    private ExecutorService pool;
    private RestSecurity security = RestSecurity.NONE;

    public HttpService(String name, String contentType) {
        this.name = name;
        this.contentType = contentType;
    }

    public HttpService route(String method, String pattern, Handler h) {
        routes.add(new Route(method, pattern, h));
        return this;
    }

    static String[] split(String path) {
        List<String> out = new ArrayList<>();
        for (String s : path.split("/")) if (!s.isEmpty()) out.add(s);
        return out.toArray(new String[0]);
    }

    /** Starts one server per listener URL ({@code http://host:port}, comma separated). */
    public void start(String listeners) throws IOException {
        start(listeners, RestSecurity.NONE);
    }

    /**
     * Starts one server per listener URL ({@code http://host:port} or {@code https://host:port},
     * comma separated); every request must pass {@code security}'s basic auth.
     */
    public void start(String listeners, RestSecurity security) throws IOException {
        this.security = security;
        pool = Executors.newFixedThreadPool(16, r -> {
            Thread t = new Thread(r, name + "-http");
            t.setDaemon(true);
            return t;
        });
        for (String l : listeners.split(",")) {
            l = l.trim();
            if (l.isEmpty()) continue;
            URI u = URI.create(l);
            boolean https = "https".equalsIgnoreCase(u.getScheme());
            if (!https && !"http".equalsIgnoreCase(u.getScheme())) {
                throw new IllegalArgumentException("only http and https listeners are supported in the lab: " + l);
            }
            if (https && security.ssl == null) {
                throw new IllegalArgumentException("the https listener " + l + " needs ssl.keystore.location");
            }
            String host = u.getHost() == null ? "0.0.0.0" : u.getHost();
            int port = u.getPort() < 0 ? (https ? 443 : 80) : u.getPort();
            InetSocketAddress addr = new InetSocketAddress(host, port);
            HttpServer s = https ? httpsServer(addr) : HttpServer.create(addr, 64);
            s.createContext("/", this::dispatch);
            s.setExecutor(pool);
            s.start();
            servers.add(s);
            LOG.info("REST server listening at " + l + " (bound " + s.getAddress() + ")");
        }
    }

    private HttpsServer httpsServer(InetSocketAddress addr) throws IOException {
        HttpsServer s = HttpsServer.create(addr, 64);
        String clientAuth = security.clientAuth;
        s.setHttpsConfigurator(new HttpsConfigurator(security.ssl) {
            @Override
            public void configure(HttpsParameters params) {
                SSLParameters p = getSSLContext().getDefaultSSLParameters();
                if (clientAuth.equals("required")) p.setNeedClientAuth(true);
                else if (clientAuth.equals("requested")) p.setWantClientAuth(true);
                params.setSSLParameters(p);
            }
        });
        return s;
    }

    /** The port of the first listener (useful when it was 0). */
    public int port() { return servers.get(0).getAddress().getPort(); }

    public void stop() {
        for (HttpServer s : servers) s.stop(0);
        if (pool != null) pool.shutdownNow();
    }

    private void dispatch(HttpExchange ex) {
        try {
            Response resp;
            try {
                String auth = ex.getRequestHeaders().getFirst("Authorization");
                int refused = security.check(auth);
                if (refused == 401) {
                    LOG.info("401 for " + ex.getRequestMethod() + " " + ex.getRequestURI().getRawPath() + " (user "
                            + RestSecurity.user(auth) + ")");
                    ex.getResponseHeaders().set("WWW-Authenticate", "Basic realm=\"" + security.realm + "\"");
                    throw new HttpError(401, "Unauthorized");
                }
                if (refused == 403) throw new HttpError(403, "User is not authorized to access this resource");
                resp = route(ex);
            } catch (HttpError e) {
                resp = Response.json(e.status, Json.obj("error_code", e.errorCode, "message", e.getMessage()));
            } catch (Exception | StackOverflowError e) {
                LOG.error("Uncaught exception in REST call to " + ex.getRequestURI(), e);
                resp = Response.json(500, Json.obj("error_code", 500, "message", String.valueOf(e)));
            }
            send(ex, resp);
        } catch (IOException e) {
            LOG.debug("client went away: " + e);
        } finally {
            ex.close();
        }
    }

    private Response route(HttpExchange ex) throws Exception {
        String method = ex.getRequestMethod().toUpperCase();
        String rawPath = ex.getRequestURI().getRawPath();
        String[] raw = split(rawPath == null ? "/" : rawPath);
        String[] segs = new String[raw.length];
        for (int i = 0; i < raw.length; i++) segs[i] = URLDecoder.decode(raw[i].replace("+", "%2B"), StandardCharsets.UTF_8);
        boolean pathMatched = false;
        for (Route r : routes) {
            Map<String, String> params = match(r.segs, segs);
            if (params == null) continue;
            pathMatched = true;
            if (!r.method.equals(method)) continue;
            Request req = new Request(method, rawPath, query(ex.getRequestURI().getRawQuery()), body(ex), ex);
            req.params.putAll(params);
            return r.h.handle(req);
        }
        if (pathMatched) throw new HttpError(405, "HTTP 405 Method Not Allowed");
        throw new HttpError(404, "HTTP 404 Not Found");
    }

    private static Map<String, String> match(String[] pat, String[] segs) {
        if (pat.length != segs.length) return null;
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < pat.length; i++) {
            String p = pat[i];
            if (p.startsWith("{") && p.endsWith("}")) m.put(p.substring(1, p.length() - 1), segs[i]);
            else if (!p.equals(segs[i])) return null;
        }
        return m;
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> q = new LinkedHashMap<>();
        if (raw == null) return q;
        for (String kv : raw.split("&")) {
            if (kv.isEmpty()) continue;
            int eq = kv.indexOf('=');
            String k = URLDecoder.decode(eq < 0 ? kv : kv.substring(0, eq), StandardCharsets.UTF_8);
            String v = eq < 0 ? "" : URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8);
            q.merge(k, v, (a, b) -> a + "," + b);
        }
        return q;
    }

    private static String body(HttpExchange ex) throws IOException {
        try (InputStream in = ex.getRequestBody()) {
            byte[] b = in.readNBytes(16 * 1024 * 1024);
            return new String(b, StandardCharsets.UTF_8);
        }
    }

    private void send(HttpExchange ex, Response r) throws IOException {
        byte[] out;
        String ct;
        if (r.text != null) {
            out = r.text.getBytes(StandardCharsets.UTF_8);
            ct = r.contentType;
        } else if (r.status == 204) {
            out = null;
            ct = null;
        } else {
            out = Json.write(r.json).getBytes(StandardCharsets.UTF_8);
            ct = contentType;
        }
        if (ct != null) ex.getResponseHeaders().set("Content-Type", ct);
        if (out == null || "HEAD".equals(ex.getRequestMethod())) {
            ex.sendResponseHeaders(r.status, -1);
            return;
        }
        ex.sendResponseHeaders(r.status, out.length);
        try (OutputStream os = ex.getResponseBody()) {
            os.write(out);
        }
    }
}
