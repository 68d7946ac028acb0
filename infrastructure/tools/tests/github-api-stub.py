"""A stub of the GitHub REST API for tests, answering from a fixture file.

The fixture (JSON, re-read on every request) maps a path and its query without
page/per_page to an answer: a JSON body (a list, or {"environments": [...]},
paged as GitHub pages them), {"__status": CODE} for an error, or
{"__raw": TEXT} for a body that is not JSON; anything else is a 404. DELETE
answers 204. Every request is appended to LOG as "METHOD PATH AUTHORIZATION".
Serves HTTP on 127.0.0.1 at a free port, printed on the first line.

Usage: python3 github-api-stub.py FIXTURE LOG
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

FIXTURE, LOG = sys.argv[1], sys.argv[2]


class Stub(BaseHTTPRequestHandler):
    def _send(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _log(self):
        with open(LOG, "a", encoding="utf-8") as log:
            log.write(f"{self.command} {self.path} {self.headers.get('Authorization')}\n")

    def do_GET(self):
        self._log()
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        page, per_page = int(query.pop("page", 1)), int(query.pop("per_page", 30))
        key = url.path + ("?" + urlencode(query) if query else "")
        with open(FIXTURE, encoding="utf-8") as f:
            answer = json.load(f).get(key, {"__status": 404})
        if isinstance(answer, dict) and "__status" in answer:
            return self._send(answer["__status"], b'{"message": "stub error"}')
        if isinstance(answer, dict) and "__raw" in answer:
            return self._send(200, answer["__raw"].encode())
        window = slice((page - 1) * per_page, page * per_page)
        if isinstance(answer, list):
            answer = answer[window]
        elif isinstance(answer, dict) and "environments" in answer:
            answer = {"total_count": len(answer["environments"]), "environments": answer["environments"][window]}
        return self._send(200, json.dumps(answer).encode())

    def do_DELETE(self):
        self._log()
        self._send(204)

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Stub)
print(server.server_port, flush=True)
server.serve_forever()
