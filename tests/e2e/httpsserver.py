"""
httpsserver.py — a real HTTPS server for e2e tests (MTA-STS policy hosts),
and the test CA that signs its certificates.

    ca = LocalCA(directory)                         # openssl CLI: CA key + self-signed CA cert
    ca.cert                                        # its PEM file (world-readable), for [delivery] tls_ca_file
    cert, key = ca.issue("mta-sts.example.test")   # a server certificate for that DNS name (SAN)

    with HTTPSServer("127.0.0.9", certs={"mta-sts.example.test": (cert, key)}) as web:
        web.port                                   # chosen by the kernel on that address
        web.route("mta-sts.example.test", "/.well-known/mta-sts.txt",
                  body="version: STSv1\\n...", status=200, content_type="text/plain",
                  headers={"Location": "..."}, length=True)
        web.requests                               # [(host, path)] in the order served

HTTPSServer(host, certs, port=0)
    certs   {server name: (cert file, key file)}; the certificate is chosen
            by the client's SNI, the first one when the name is unknown or
            absent.  A name may map to any pair (a certificate of another
            CA, or for another name) to make a host present a bad one.
    port    0: a free port picked by the kernel (no race with other tests).
  .route(host, path, body=..., status=200, content_type="text/plain",
         headers=None, length=True)
            what GET https://host/path answers (host without port): body
            (str or bytes), status, Content-Type (None: no such header),
            extra headers; length=False sends no Content-Length, the end of
            the body being the end of the connection.  Unknown routes: 404.
  .requests [(host, path)] of every request, in order (reset with .requests.clear()).
  .stop()   close the server (also on leaving `with`).

The server speaks HTTP/1.0 (one request per connection), handshakes in the
connection's own thread, so a client that fails the handshake (as a
client refusing the certificate does) disturbs nothing else, and keeps
quiet about such failures.
"""
import http.server
import os
import socketserver
import ssl
import subprocess
import threading


def _openssl(args, cwd):
    subprocess.run(["openssl"] + args, cwd=cwd, check=True, capture_output=True)


class LocalCA:
    """A certificate authority for one test directory (openssl CLI, EC P-256)."""

    def __init__(self, directory, name="tern test CA"):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, 0o755)  # the tern user reads the CA file
        safe = "".join(c if c.isalnum() else "-" for c in name)
        self.key = os.path.join(directory, safe + ".key")
        self.cert = os.path.join(directory, safe + ".pem")
        _openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-days", "30", "-subj", "/CN=" + name, "-keyout", self.key, "-out", self.cert,
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign"], directory)
        os.chmod(self.cert, 0o644)
        self.serial = 1

    def issue(self, dns_name, cn=None):
        """(cert, key) files of a server certificate for dns_name, signed by this CA."""
        self.serial += 1
        base = os.path.join(self.dir, "%s-%d" % (dns_name.replace("*", "star"), self.serial))
        ext = base + ".ext"
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\n"
                    "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n" % dns_name)
        _openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-subj", "/CN=" + (cn or dns_name), "-keyout", base + ".key", "-out", base + ".csr"], self.dir)
        _openssl(["x509", "-req", "-in", base + ".csr", "-CA", self.cert, "-CAkey", self.key,
                  "-set_serial", str(self.serial), "-days", "30", "-extfile", ext,
                  "-out", base + ".pem"], self.dir)
        return base + ".pem", base + ".key"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server_version = "tern-test-https"

    def do_GET(self):
        web = self.server.web
        host = self.headers.get("Host", "")
        if host.count(":") == 1:
            host = host.split(":")[0]
        host = host.lower()
        path = self.path
        with web.lock:
            web.requests.append((host, path))
            r = web.routes.get((host, path))
        if r is None:
            r = {"body": b"not found\n", "status": 404, "content_type": "text/plain",
                 "headers": {}, "length": True}
        body = r["body"].encode() if isinstance(r["body"], str) else r["body"]
        self.send_response(r["status"])
        if r["content_type"] is not None:
            self.send_header("Content-Type", r["content_type"])
        for k, v in r["headers"].items():
            self.send_header(k, v)
        if r["length"]:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # a client that stopped reading (a size limit)

    def log_message(self, fmt, *args):
        pass


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # refused certificates, clients closing early: not the server's business

    def get_request(self):
        sock, addr = super().get_request()
        # The handshake happens on the first read, in the connection's thread.
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


class HTTPSServer:
    def __init__(self, host, certs, port=0):
        if not certs:
            raise ValueError("HTTPSServer needs at least one certificate")
        self.host = host
        self.routes = {}
        self.requests = []
        self.lock = threading.Lock()
        self.contexts = {}
        for name, (cert, key) in certs.items():
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            self.contexts[name.lower()] = ctx
        default = next(iter(self.contexts.values()))

        def pick(sslsock, server_name, _ctx):
            chosen = self.contexts.get((server_name or "").lower())
            if chosen is not None:
                sslsock.context = chosen

        default.sni_callback = pick
        self.httpd = _Server((host, port), _Handler)
        self.httpd.ctx = default
        self.httpd.web = self
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def route(self, host, path, body="", status=200, content_type="text/plain", headers=None, length=True):
        with self.lock:
            self.routes[(host.lower(), path)] = {"body": body, "status": status, "content_type": content_type,
                                                 "headers": dict(headers or {}), "length": length}

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(timeout=5)
            self.httpd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
