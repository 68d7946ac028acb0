"""A registry token service for tests, as Docker Hub's auth.docker.io works.

GET /token?service=S&scope=repository:NAME:ACTIONS answers {"token": JWT}: an
RS256 JSON Web Token signed with KEY (via openssl), its certificate CERT in the
x5c header, the issuer ISSUER and audience S, granting the scope's actions.
With USER:PASSWORD it grants only to those Basic credentials (401 otherwise);
without, to anyone (an anonymous pull of a public image). Serves HTTPS with
TLS_CERT/TLS_KEY on 127.0.0.1 at a free port, printed on the first line.

Usage: python3 registry-token-service.py CERT KEY ISSUER TLS_CERT TLS_KEY [USER:PASSWORD]
"""
import base64
import json
import os
import ssl
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

CERT, KEY, ISSUER, TLS_CERT, TLS_KEY = sys.argv[1:6]
CREDENTIALS = sys.argv[6] if len(sys.argv) > 6 else None


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cert_der():
    pem = open(CERT).read()
    body = pem.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return base64.b64decode("".join(body.split()))


def token(service, scope, subject):
    access = []
    if scope:
        kind, rest = scope.split(":", 1)
        name, actions = rest.rsplit(":", 1)
        access.append({"type": kind, "name": name, "actions": actions.split(",")})
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "x5c": [base64.b64encode(cert_der()).decode()]}
    claims = {"iss": ISSUER, "sub": subject, "aud": service, "exp": now + 300, "nbf": now - 10,
              "iat": now, "jti": os.urandom(8).hex(), "access": access}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEY], input=signing_input.encode(),
                               capture_output=True, check=True).stdout
    return signing_input + "." + b64url(signature)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        subject = "anonymous"
        if CREDENTIALS is not None:
            auth = self.headers.get("Authorization", "")
            given = base64.b64decode(auth[6:]).decode() if auth.startswith("Basic ") else None
            if given != CREDENTIALS:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="token"')
                self.end_headers()
                return
            subject = CREDENTIALS.split(":", 1)[0]
        if url.path != "/token":
            self.send_response(404)
            self.end_headers()
            return
        body = json.dumps({"token": token(query.get("service", [""])[0], query.get("scope", [""])[0], subject)})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(TLS_CERT, TLS_KEY)
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
