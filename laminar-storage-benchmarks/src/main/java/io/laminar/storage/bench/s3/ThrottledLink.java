package io.laminar.storage.bench.s3;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.locks.LockSupport;

/**
 * A TCP relay on 127.0.0.1 in front of the server that lets each connection carry at most
 * {@code bytesPerSecond} from the server to the client, as one connection to S3 carries far less
 * than a machine's link (AWS quotes about 100 MB/s per request). Requests pass unlimited. Each
 * accepted connection gets a connection of its own to the server and two threads that copy.
 */
final class ThrottledLink implements AutoCloseable {

    private static final int CHUNK = 64 * 1024;
    private static final long MAX_CREDIT_NANOS = 10_000_000;

    private final String scheme;
    private final int upstreamPort;
    private final long bytesPerSecond;
    private final ServerSocket socket;
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        var t = new Thread(r, "bench-throttled-link");
        t.setDaemon(true);
        return t;
    });
    private volatile boolean closed;

    ThrottledLink(URI upstream, long bytesPerSecond) throws IOException {
        this.scheme = upstream.getScheme();
        this.upstreamPort = upstream.getPort();
        this.bytesPerSecond = bytesPerSecond;
        this.socket = new ServerSocket(0, 200, InetAddress.getLoopbackAddress());
        threads.execute(this::accept);
    }

    /** The relay's endpoint: a client of it reaches the server through limited connections. */
    URI endpoint() {
        return URI.create(scheme + "://127.0.0.1:" + socket.getLocalPort());
    }

    private void accept() {
        while (!closed) {
            try {
                var client = socket.accept();
                var server = new Socket();
                server.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), upstreamPort), 5000);
                client.setTcpNoDelay(true);
                server.setTcpNoDelay(true);
                threads.execute(() -> copy(client, server, Long.MAX_VALUE));
                threads.execute(() -> copy(server, client, bytesPerSecond));
            } catch (IOException e) {
                if (!closed) {
                    System.err.println("throttled link: " + e);
                }
            }
        }
    }

    /** Copies until either side closes, at most {@code rate} bytes per second; then closes both. */
    private static void copy(Socket from, Socket to, long rate) {
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            var buffer = new byte[CHUNK];
            long due = System.nanoTime(); // when the bytes sent so far may have gone at the rate
            for (int n; (n = in.read(buffer)) >= 0; ) {
                out.write(buffer, 0, n);
                if (rate != Long.MAX_VALUE) {
                    long now = System.nanoTime();
                    // An idle connection earns at most 10 ms of credit, not a burst at the line's speed.
                    due = Math.max(due, now - MAX_CREDIT_NANOS) + (long) (n * 1e9 / rate);
                    if (due > now) {
                        LockSupport.parkNanos(due - now);
                    }
                }
            }
        } catch (IOException e) {
            // one side closed: the other follows
        } finally {
            closeQuietly(from);
            closeQuietly(to);
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // closed already
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        socket.close();
        threads.shutdownNow();
    }
}
