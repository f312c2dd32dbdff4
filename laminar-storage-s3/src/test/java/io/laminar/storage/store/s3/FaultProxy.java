package io.laminar.storage.store.s3;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Test support: an HTTP proxy on 127.0.0.1 in front of an S3 server that can answer a request with
 * an error instead of passing it on, drop it, pass it on without its {@code Range} header, or
 * damage, cut or slow down the response. Each request gets a
 * connection of its own ({@code Connection: close} both ways), so that a rule decides per request;
 * every request head is recorded for assertions. A rule sees each request and says what to do.
 *
 * <p>Only the heads are parsed; bodies pass through byte for byte (interim {@code 100 Continue}
 * responses included).
 */
public final class FaultProxy implements AutoCloseable {

    /** One request as the proxy saw it: method, target (path and query) and the whole head. */
    public record Request(String method, String target, String head) {
        /** Whether a header of this name (case-insensitive) has this value. */
        public boolean hasHeader(String name, String value) {
            var wanted = name.toLowerCase(Locale.ROOT) + ": " + value;
            return head.lines().anyMatch(l -> l.toLowerCase(Locale.ROOT).equals(wanted.toLowerCase(Locale.ROOT)));
        }

        /** The value of the first header of this name (case-insensitive), if the request has one. */
        public Optional<String> header(String name) {
            var prefix = name.toLowerCase(Locale.ROOT) + ":";
            return head.lines().filter(l -> l.toLowerCase(Locale.ROOT).startsWith(prefix))
                    .map(l -> l.substring(prefix.length()).strip()).findFirst();
        }

        public boolean isUploadPart() {
            return method.equals("PUT") && target.contains("partNumber=");
        }

        @Override
        public String toString() {
            return method + " " + target;
        }
    }

    /** What to do with a request. */
    public enum Action {
        PASS,
        /** 503 SlowDown, as S3 throttles. */
        SLOW_DOWN,
        /** 500 InternalError. */
        INTERNAL_ERROR,
        /** 403 AccessDenied. */
        ACCESS_DENIED,
        /** Close the connection without an answer. */
        DROP,
        /** Pass it on, but cut the response body off after {@value #CUT_AFTER} bytes. */
        CUT_RESPONSE,
        /** Pass it on, but flip one bit of the response body's byte {@value #CUT_AFTER}. */
        CORRUPT_RESPONSE,
        /** Pass it on and let the server do it, but reset the connection instead of answering. */
        LOSE_RESPONSE,
        /** Pass it on without its {@code Range} header, as a server that ignores ranges. */
        IGNORE_RANGE,
        /** Pass it on, but send the response body 8 KiB at a time, {@value #SLOW_PAUSE_MILLIS} ms apart. */
        SLOW_RESPONSE
    }

    public static final int CUT_AFTER = 1000;
    public static final int SLOW_PAUSE_MILLIS = 500;

    private final URI upstream;
    private final ServerSocket socket;
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        var t = new Thread(r, "fault-proxy");
        t.setDaemon(true);
        return t;
    });
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private volatile Function<Request, Action> rule = r -> Action.PASS;
    private volatile boolean closed;

    public FaultProxy(URI upstream) throws IOException {
        this.upstream = upstream;
        this.socket = new ServerSocket();
        socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        threads.execute(this::accept);
    }

    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + socket.getLocalPort());
    }

    /** From now on, {@code rule} decides what happens to each request. */
    public void rule(Function<Request, Action> rule) {
        this.rule = rule;
    }

    /** Passes everything on. */
    public void passAll() {
        rule(r -> Action.PASS);
    }

    /** Every request seen so far, in order of arrival. */
    public List<Request> requests() {
        return List.copyOf(requests);
    }

    public void clearRequests() {
        requests.clear();
    }

    private void accept() {
        while (!closed) {
            try {
                var client = socket.accept();
                threads.execute(() -> handle(client));
            } catch (IOException e) {
                if (!closed) {
                    System.err.println("fault proxy: accept failed: " + e);
                }
                return;
            }
        }
    }

    private void handle(Socket client) {
        try (client) {
            var in = client.getInputStream();
            var head = readHead(in);
            if (head == null) {
                return;
            }
            var firstLine = head.substring(0, head.indexOf("\r\n"));
            var parts = firstLine.split(" ");
            var request = new Request(parts[0], parts.length > 1 ? parts[1] : "", head);
            requests.add(request);
            var action = rule.apply(request);
            var out = client.getOutputStream();
            switch (action) {
                case SLOW_DOWN -> answer(in, out, head, 503, "Slow Down", "SlowDown", "Please reduce your request rate.");
                case INTERNAL_ERROR -> answer(in, out, head, 500, "Internal Server Error", "InternalError",
                        "We encountered an internal error. Please try again.");
                case ACCESS_DENIED -> answer(in, out, head, 403, "Forbidden", "AccessDenied", "Access Denied");
                case DROP -> client.setSoLinger(true, 0); // a reset, as a server that died
                default -> relay(client, in, out, head, action);
            }
        } catch (IOException e) {
            // the client or the server went away: the request fails as it would without the proxy
        }
    }

    private void relay(Socket client, InputStream in, OutputStream out, String head, Action action) throws IOException {
        try (var server = new Socket()) {
            try {
                server.connect(new InetSocketAddress("127.0.0.1", upstream.getPort()), 5000);
            } catch (IOException e) {
                client.setSoLinger(true, 0); // nobody listens upstream: the client sees a reset
                return;
            }
            var toServer = server.getOutputStream();
            var sent = action == Action.IGNORE_RANGE ? head.replaceAll("(?im)^range:[^\r\n]*\r\n", "") : head;
            toServer.write(withConnectionClose(sent).getBytes(StandardCharsets.ISO_8859_1));
            toServer.flush();
            var upload = threads.submit(() -> {
                try {
                    in.transferTo(toServer);
                    server.shutdownOutput();
                } catch (IOException e) {
                    // one side closed
                }
                return null;
            });
            if (action == Action.LOSE_RESPONSE) {
                pumpResponse(server.getInputStream(), OutputStream.nullOutputStream(), Action.PASS);
                client.setSoLinger(true, 0);
            } else {
                pumpResponse(server.getInputStream(), out, action);
                out.flush();
            }
            upload.cancel(true);
        }
    }

    /** Copies the response: heads rewritten to close the connection, the body maybe cut or damaged. */
    private static void pumpResponse(InputStream from, OutputStream to, Action action) throws IOException {
        while (true) {
            var head = readHead(from);
            if (head == null) {
                return;
            }
            to.write(withConnectionClose(head).getBytes(StandardCharsets.ISO_8859_1));
            if (!head.startsWith("HTTP/1.1 1")) { // not an interim 100 Continue: the body follows
                break;
            }
            to.flush();
        }
        var buffer = new byte[8192];
        long body = 0;
        for (int n; (n = from.read(buffer)) >= 0; ) {
            if (action == Action.CUT_RESPONSE && body + n > CUT_AFTER) {
                to.write(buffer, 0, (int) (CUT_AFTER - body));
                to.flush();
                return; // the caller closes the connection: the body ends early
            }
            if (action == Action.CORRUPT_RESPONSE && body <= CUT_AFTER && CUT_AFTER < body + n) {
                buffer[(int) (CUT_AFTER - body)] ^= 0x10;
            }
            to.write(buffer, 0, n);
            body += n;
            if (action == Action.SLOW_RESPONSE) {
                to.flush();
                try {
                    Thread.sleep(SLOW_PAUSE_MILLIS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private static void answer(InputStream in, OutputStream out, String head, int status, String reason, String code,
            String message) throws IOException {
        // Read a body the client sends without waiting for 100 Continue, so that closing the
        // connection does not reset it before the client reads the answer.
        if (!head.toLowerCase(Locale.ROOT).contains("expect: 100-continue")) {
            long length = contentLength(head);
            if (length > 0) {
                in.skipNBytes(length);
            }
        }
        var body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code + "</Code><Message>" + message
                + "</Message><RequestId>fault-proxy</RequestId></Error>").getBytes(StandardCharsets.UTF_8);
        var response = "HTTP/1.1 " + status + " " + reason + "\r\nContent-Type: application/xml\r\nContent-Length: "
                + body.length + "\r\nx-amz-request-id: fault-proxy\r\nConnection: close\r\n\r\n";
        out.write(response.getBytes(StandardCharsets.ISO_8859_1));
        out.write(body);
        out.flush();
    }

    private static long contentLength(String head) {
        for (var line : head.split("\r\n")) {
            if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                return Long.parseLong(line.substring("content-length:".length()).trim());
            }
        }
        return -1;
    }

    private static String withConnectionClose(String head) {
        var sb = new StringBuilder();
        for (var line : head.split("\r\n")) {
            if (!line.toLowerCase(Locale.ROOT).startsWith("connection:") && !line.isEmpty()) {
                sb.append(line).append("\r\n");
            }
        }
        return sb.append("Connection: close\r\n\r\n").toString();
    }

    /** Reads up to and including the blank line that ends a head; null at the end of the stream. */
    private static String readHead(InputStream in) throws IOException {
        var head = new ByteArrayOutputStream();
        int matched = 0;
        for (int b; (b = in.read()) >= 0; ) {
            head.write(b);
            matched = (b == '\r' || b == '\n') ? matched + 1 : 0;
            if (matched == 4) {
                return head.toString(StandardCharsets.ISO_8859_1);
            }
            if (head.size() > 256 * 1024) {
                throw new IOException("head too long");
            }
        }
        return null;
    }

    @Override
    public void close() throws IOException {
        closed = true;
        socket.close();
        threads.shutdownNow();
        try {
            threads.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
