"""An HTTPS webhook receiver for the notify tests, written without any of Hark's code: Python's
own TLS (ssl) and HTTP server, and the signature checked as the README tells receivers to.

    tls_receiver.py --cert server.pem --key server.key --secret SECRET

Prints `listening <port>` once it accepts connections on 127.0.0.1, then one JSON line per
request: {"path", "id", "signature_ok", "body"}. Answers 200 to a correctly signed request and
401 to any other. A client that does not trust the certificate never gets as far as a request.
"""

import argparse
import hashlib
import hmac
import http.server
import json
import ssl
import time

MAX_AGE_SECS = 300


def signature_ok(secret: bytes, timestamp: str, signature: str, body: bytes) -> bool:
    """X-Hark-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>, timestamp recent."""
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_AGE_SECS:
        return False
    expected = "v1=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature, expected)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cert", required=True, help="the server's certificate (PEM)")
    parser.add_argument("--key", required=True, help="its private key (PEM)")
    parser.add_argument("--secret", required=True, help="the receiver's signing secret")
    args = parser.parse_args()
    secret = args.secret.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            ok = signature_ok(
                secret,
                self.headers.get("X-Hark-Timestamp", ""),
                self.headers.get("X-Hark-Signature", ""),
                body,
            )
            record = {
                "path": self.path,
                "id": self.headers.get("X-Hark-Notification-Id"),
                "signature_ok": ok,
                "body": json.loads(body),
            }
            print(json.dumps(record), flush=True)
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            # Stdout carries the records; the access log would only get in the way.
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # A failed handshake (the client did not trust us) raises in accept(), which the server
    # ignores: it goes on serving the next connection.
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
