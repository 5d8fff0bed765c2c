"""A minimal PostgreSQL client speaking the frontend/backend protocol 3.0 over a
socket (standard library only): trust authentication, simple queries, text rows.

The chaos runs need sessions psql cannot give them cheaply: a hundred and more
connections held at once by one process (the client that exhausts
max_connections), and a transaction held open across the seconds or minutes of a
run (the idle-in-transaction session, the long reader)."""

import socket
import struct
import urllib.parse

PROTOCOL_3_0 = 196608


class ServerError(Exception):
    """An ErrorResponse: `fields` by their one-letter codes (C: SQLSTATE, M: message)."""

    def __init__(self, fields):
        self.fields = fields
        self.sqlstate = fields.get("C", "")
        super().__init__(f"{fields.get('S', 'ERROR')}: {fields.get('M', '?')} (SQLSTATE {self.sqlstate})")


class ConnectionClosed(Exception):
    """The server closed the connection (terminated backend, shutdown)."""


def startup_message(parameters):
    """The StartupMessage: length, protocol version, key/value strings, a final NUL."""
    body = struct.pack("!i", PROTOCOL_3_0)
    for key, value in parameters.items():
        body += key.encode() + b"\0" + value.encode() + b"\0"
    body += b"\0"
    return struct.pack("!i", len(body) + 4) + body


def query_message(sql):
    payload = sql.encode() + b"\0"
    return b"Q" + struct.pack("!i", len(payload) + 4) + payload


def error_fields(payload):
    """An ErrorResponse's or NoticeResponse's fields: {code letter: text}."""
    fields = {}
    for part in payload.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode(errors="replace")
    return fields


def data_row(payload):
    """A DataRow's columns as text (None for NULL)."""
    (count,) = struct.unpack_from("!h", payload, 0)
    offset, columns = 2, []
    for _ in range(count):
        (length,) = struct.unpack_from("!i", payload, offset)
        offset += 4
        if length < 0:
            columns.append(None)
        else:
            columns.append(payload[offset:offset + length].decode(errors="replace"))
            offset += length
    return columns


def url_parameters(url):
    """(host, port, user, database) of a postgresql:// URL."""
    parsed = urllib.parse.urlparse(url)
    return parsed.hostname or "127.0.0.1", parsed.port or 5432, parsed.username or "postgres", \
        parsed.path.lstrip("/") or "postgres"


class Connection:
    """One session. `open` connects; `Connection(sock)` + `handshake` is the same on
    a socket someone else made (the unit tests' socket pair)."""

    def __init__(self, sock):
        self.sock = sock
        self.backend_pid = None

    @classmethod
    def open(cls, url, application_name="chaos", timeout=10):
        host, port, user, database = url_parameters(url)
        sock = socket.create_connection((host, port), timeout=timeout)
        connection = cls(sock)
        try:
            connection.handshake({"user": user, "database": database, "application_name": application_name})
        except BaseException:
            sock.close()
            raise
        return connection

    def handshake(self, parameters):
        self.sock.sendall(startup_message(parameters))
        while True:
            kind, payload = self._read()
            if kind == b"R":
                (code,) = struct.unpack_from("!i", payload, 0)
                if code != 0:
                    raise ServerError({"S": "FATAL", "C": "28000",
                                       "M": f"authentication method {code} needed; only trust is supported"})
            elif kind == b"K":
                self.backend_pid = struct.unpack_from("!i", payload, 0)[0]
            elif kind == b"E":
                raise ServerError(error_fields(payload))
            elif kind == b"Z":
                return

    def query(self, sql):
        """Runs `sql` (one or more statements); the rows of the last result that had
        any, as lists of text. A server error is raised once the server is ready again."""
        self.sock.sendall(query_message(sql))
        rows, current, error = [], [], None
        while True:
            try:
                kind, payload = self._read()
            except ConnectionClosed:
                if error:  # a FATAL error, then the server hung up: the error says why
                    raise error from None
                raise
            if kind == b"T":
                current = []
            elif kind == b"D":
                current.append(data_row(payload))
            elif kind == b"C":
                if current:
                    rows = current
            elif kind == b"E":
                error = ServerError(error_fields(payload))
            elif kind == b"Z":
                if error:
                    raise error
                return rows

    def close(self):
        try:
            self.sock.sendall(b"X" + struct.pack("!i", 4))
        except OSError:
            pass
        self.sock.close()

    def _read(self):
        header = self._exactly(5)
        (length,) = struct.unpack("!i", header[1:])
        return header[:1], self._exactly(length - 4)

    def _exactly(self, count):
        data = b""
        while len(data) < count:
            try:
                chunk = self.sock.recv(count - len(data))
            except OSError as error:
                raise ConnectionClosed(str(error)) from error
            if not chunk:
                raise ConnectionClosed("the server closed the connection")
            data += chunk
        return data
