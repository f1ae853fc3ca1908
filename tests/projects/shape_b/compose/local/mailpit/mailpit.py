"""A tiny stand-in for Mailpit: SMTP on 1025, the messages on :8025/api/v1/messages."""

import http.server
import json
import socketserver
import threading

MESSAGES: list[dict[str, str]] = []


class SMTPHandler(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 mailpit stand-in ESMTP")
        sender, recipients = "", []
        while True:
            line = self.rfile.readline().decode(errors="replace").rstrip("\r\n")
            if not line:
                return
            verb = line.split(" ", 1)[0].upper()
            if verb in ("HELO", "EHLO"):
                self.reply("250 mailpit")
            elif verb == "MAIL":
                sender = line.partition(":")[2].strip()
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(line.partition(":")[2].strip())
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                body = []
                while (data := self.rfile.readline().decode(errors="replace")) not in (".\r\n", ""):
                    body.append(data)
                MESSAGES.append({"from": sender, "to": ", ".join(recipients), "raw": "".join(body)})
                self.reply("250 OK: queued")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("250 OK")


class WebHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"total": len(MESSAGES), "messages": MESSAGES}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    smtp = socketserver.ThreadingTCPServer(("0.0.0.0", 1025), SMTPHandler)
    threading.Thread(target=smtp.serve_forever, daemon=True).start()
    print("mailpit stand-in: smtp :1025, web :8025", flush=True)
    http.server.ThreadingHTTPServer(("0.0.0.0", 8025), WebHandler).serve_forever()


if __name__ == "__main__":
    main()
