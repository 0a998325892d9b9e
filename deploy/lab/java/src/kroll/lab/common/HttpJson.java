package kroll.lab.common;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;

/** A tiny blocking HTTP/JSON client on HttpURLConnection (module java.base only). */
public final class HttpJson {
    private HttpJson() {}

    public static final class Result {
        public final int status;
        public final String body;

        Result(int status, String body) {
            this.status = status;
            this.body = body;
        }

        public Object json() { return body == null || body.isEmpty() ? null : Json.parse(body); }

        @Override
        public String toString() { return status + " " + body; }
    }

    public static Result call(String method, String url, Object jsonBody, int timeoutMs) throws IOException {
        return call(method, url, jsonBody, timeoutMs, null);
    }

    /** A call with an {@code Authorization} header (none when null). */
    public static Result call(String method, String url, Object jsonBody, int timeoutMs, String authorization) throws IOException {
        HttpURLConnection c = (HttpURLConnection) new URL(url).openConnection();
        c.setConnectTimeout(timeoutMs);
        c.setReadTimeout(timeoutMs);
        c.setRequestMethod(method);
        c.setRequestProperty("Accept", "application/json");
        if (authorization != null) c.setRequestProperty("Authorization", authorization);
        if (jsonBody != null) {
            byte[] b = (jsonBody instanceof String ? (String) jsonBody : Json.write(jsonBody))
                    .getBytes(StandardCharsets.UTF_8);
            c.setDoOutput(true);
            c.setRequestProperty("Content-Type", "application/json");
            // Buffered, not streamed: a 401 to a streamed body leaves no error stream to read.
            try (OutputStream os = c.getOutputStream()) {
                os.write(b);
            }
        }
        int status = c.getResponseCode();
        InputStream in = status >= 400 ? c.getErrorStream() : c.getInputStream();
        String body = "";
        if (in != null) {
            try (InputStream i = in) {
                body = new String(i.readAllBytes(), StandardCharsets.UTF_8);
            }
        }
        c.disconnect();
        return new Result(status, body);
    }
}
