package kroll.lab.kafka;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.HashMap;
import java.util.Map;

/**
 * One TCP connection to a broker: synchronous request/response with request header v1, response
 * header v0, and the broker's API version ranges learnt with ApiVersions v0 on connect.
 */
public final class KafkaConnection implements Closeable {
    private final Socket socket;
    private final DataInputStream in;
    private final DataOutputStream out;
    private final String clientId;
    private final String address;
    private int correlation;
    private final Map<Integer, int[]> brokerVersions = new HashMap<>();
    private volatile boolean closed;

    private KafkaConnection(Socket s, String clientId, String address) throws IOException {
        this.socket = s;
        this.in = new DataInputStream(new BufferedInputStream(s.getInputStream(), 65536));
        this.out = new DataOutputStream(new BufferedOutputStream(s.getOutputStream(), 65536));
        this.clientId = clientId;
        this.address = address;
    }

    public static KafkaConnection open(String host, int port, String clientId, int connectTimeoutMs, int requestTimeoutMs) {
        Socket s = new Socket();
        try {
            s.setTcpNoDelay(true);
            s.setKeepAlive(true);
            s.connect(new InetSocketAddress(host, port), connectTimeoutMs);
            s.setSoTimeout(requestTimeoutMs);
            KafkaConnection c = new KafkaConnection(s, clientId, host + ":" + port);
            c.handshake();
            return c;
        } catch (IOException e) {
            try {
                s.close();
            } catch (IOException ignored) {
                // nothing more to do
            }
            throw new KafkaException(Errors.CLIENT_NETWORK, "cannot connect to " + host + ":" + port + ": " + e, e);
        }
    }

    public String address() { return address; }

    public boolean isClosed() { return closed; }

    private void handshake() throws IOException {
        WireReader r = roundTrip(ApiKeys.API_VERSIONS.id, 0, new byte[0]);
        int err = r.int16();
        int n = r.arrayLength();
        for (int i = 0; i < n; i++) {
            int key = r.int16();
            int min = r.int16();
            int max = r.int16();
            brokerVersions.put(key, new int[] {min, max});
        }
        if (err != Errors.NONE && brokerVersions.isEmpty()) {
            throw new KafkaException(err, "ApiVersions failed on " + address + ": " + Errors.name(err));
        }
    }

    /** The version to use for an API: the highest both sides support. */
    public int version(ApiKeys api) {
        int[] b = brokerVersions.get(api.id);
        if (b == null) throw new KafkaException(Errors.UNSUPPORTED_VERSION, "broker " + address + " does not support API " + api);
        int v = Math.min(api.max, b[1]);
        if (v < Math.max(api.min, b[0])) {
            throw new KafkaException(Errors.UNSUPPORTED_VERSION, "no common version of " + api + " with broker " + address
                    + " (client " + api.min + ".." + api.max + ", broker " + b[0] + ".." + b[1] + ")");
        }
        return v;
    }

    /** Sends a request and returns a reader positioned at the response body. */
    public synchronized WireReader send(ApiKeys api, int version, byte[] body) {
        if (closed) throw new KafkaException(Errors.CLIENT_NETWORK, "connection to " + address + " is closed");
        try {
            return roundTrip(api.id, version, body);
        } catch (IOException e) {
            close();
            throw new KafkaException(Errors.CLIENT_NETWORK, "request " + api + " to " + address + " failed: " + e, e);
        }
    }

    private WireReader roundTrip(int apiKey, int version, byte[] body) throws IOException {
        int corr = ++correlation;
        WireWriter h = new WireWriter(32);
        h.int16(apiKey).int16(version).int32(corr).nullableString(clientId);
        out.writeInt(h.size() + body.length);
        out.write(h.toBytes());
        out.write(body);
        out.flush();
        int size = in.readInt();
        if (size < 4 || size > 128 * 1024 * 1024) throw new IOException("bad response size " + size);
        byte[] resp = new byte[size];
        in.readFully(resp);
        WireReader r = new WireReader(resp);
        int got = r.int32();
        if (got != corr) throw new IOException("correlation id mismatch: sent " + corr + ", got " + got);
        return r;
    }

    @Override
    public void close() {
        closed = true;
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }
}
