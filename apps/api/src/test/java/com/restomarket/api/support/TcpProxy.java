package com.restomarket.api.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A loopback TCP forwarder placed between the application and a real server, so a test can make
 * that server unreachable ({@link #refuse()}), hanging ({@link #blackhole()}) and reachable again
 * ({@link #restore()}) without disturbing other tests that use the same server.
 */
public final class TcpProxy implements AutoCloseable {

  private enum Mode {
    FORWARD,
    BLACKHOLE,
    REFUSE
  }

  private final String targetHost;
  private final int targetPort;
  private final ServerSocket server;
  private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private volatile Mode mode = Mode.FORWARD;

  public TcpProxy(String targetHost, int targetPort) {
    this.targetHost = targetHost;
    this.targetPort = targetPort;
    try {
      this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    } catch (IOException e) {
      throw new IllegalStateException("cannot open a loopback port for the proxy", e);
    }
    threads.execute(this::acceptLoop);
  }

  public int port() {
    return server.getLocalPort();
  }

  /** Connections are accepted and then never answered, like a frozen server. */
  public void blackhole() {
    mode = Mode.BLACKHOLE;
    dropAll();
  }

  /** New connections are reset at once and existing ones are cut, like a stopped server. */
  public void refuse() {
    mode = Mode.REFUSE;
    dropAll();
  }

  public void restore() {
    mode = Mode.FORWARD;
  }

  private void acceptLoop() {
    while (!server.isClosed()) {
      try {
        Socket client = server.accept();
        switch (mode) {
          case REFUSE -> client.close();
          case BLACKHOLE -> open.add(client);
          case FORWARD -> threads.execute(() -> connect(client));
        }
      } catch (IOException e) {
        return;
      }
    }
  }

  private void connect(Socket client) {
    Socket upstream = new Socket();
    try {
      upstream.connect(new InetSocketAddress(targetHost, targetPort), 2000);
    } catch (IOException e) {
      closeQuietly(client);
      closeQuietly(upstream);
      return;
    }
    open.add(client);
    open.add(upstream);
    threads.execute(() -> pump(client, upstream));
    threads.execute(() -> pump(upstream, client));
  }

  private void pump(Socket from, Socket to) {
    byte[] buffer = new byte[8192];
    try (InputStream in = from.getInputStream();
        OutputStream out = to.getOutputStream()) {
      int n;
      while ((n = in.read(buffer)) >= 0) {
        if (mode != Mode.FORWARD) {
          return;
        }
        out.write(buffer, 0, n);
        out.flush();
      }
    } catch (IOException e) {
      // One side went away; the other is closed below.
    } finally {
      closeQuietly(from);
      closeQuietly(to);
    }
  }

  private void dropAll() {
    for (Socket socket : open) {
      closeQuietly(socket);
    }
    open.clear();
  }

  private static void closeQuietly(Socket socket) {
    try {
      socket.close();
    } catch (IOException e) {
      // Already closed.
    }
  }

  @Override
  public void close() {
    try {
      server.close();
    } catch (IOException e) {
      // Already closed.
    }
    dropAll();
    threads.shutdownNow();
  }
}
