import socket
import struct
import threading
import unittest

from chaos import pgwire


def message(kind, payload):
    return kind + struct.pack("!i", len(payload) + 4) + payload


def error_payload(**fields):
    return b"".join(code.encode() + text.encode() + b"\0" for code, text in fields.items()) + b"\0"


class PgwireTests(unittest.TestCase):
    def test_the_startup_message_is_length_version_and_pairs(self):
        data = pgwire.startup_message({"user": "postgres", "database": "cleaning"})
        self.assertEqual(struct.unpack("!i", data[:4])[0], len(data))
        self.assertEqual(struct.unpack("!i", data[4:8])[0], 3 << 16)
        self.assertEqual(data[8:], b"user\0postgres\0database\0cleaning\0\0")

    def test_error_fields_and_data_rows_are_read_by_their_layout(self):
        fields = pgwire.error_fields(error_payload(S="FATAL", C="53300", M="sorry, too many clients already"))
        self.assertEqual(fields, {"S": "FATAL", "C": "53300", "M": "sorry, too many clients already"})
        row = struct.pack("!h", 3) + struct.pack("!i", 2) + b"42" + struct.pack("!i", -1) + struct.pack("!i", 0)
        self.assertEqual(pgwire.data_row(row), ["42", None, ""])

    def test_a_url_gives_host_port_user_and_database(self):
        self.assertEqual(pgwire.url_parameters("postgresql://postgres@127.0.0.1:54321/cleaning"),
                         ("127.0.0.1", 54321, "postgres", "cleaning"))

    def server(self, replies):
        """A socket pair whose far end reads what the client sends and answers `replies`."""
        client, far = socket.socketpair()
        self.addCleanup(client.close)

        def answer():
            far.recv(65536)
            far.sendall(b"".join(replies))
            far.close()
        threading.Thread(target=answer, daemon=True).start()
        return pgwire.Connection(client)

    def test_a_refused_connection_raises_the_servers_sqlstate(self):
        connection = self.server([message(b"E", error_payload(S="FATAL", C="53300", M="sorry, too many clients already"))])
        with self.assertRaises(pgwire.ServerError) as raised:
            connection.handshake({"user": "postgres"})
        self.assertEqual(raised.exception.sqlstate, "53300")
        self.assertIn("too many clients", str(raised.exception))

    def test_a_session_is_ready_after_authentication_and_returns_rows(self):
        connection = self.server([
            message(b"R", struct.pack("!i", 0)), message(b"K", struct.pack("!ii", 4242, 7)), message(b"Z", b"I")])
        connection.handshake({"user": "postgres"})
        self.assertEqual(connection.backend_pid, 4242)

    def test_a_fatal_error_before_the_server_hangs_up_is_what_the_query_raises(self):
        connection = self.server([
            message(b"E", error_payload(S="FATAL", C="25P03", M="terminating connection due to idle-in-transaction timeout"))])
        with self.assertRaises(pgwire.ServerError) as raised:
            connection.query("SELECT 1")
        self.assertEqual(raised.exception.sqlstate, "25P03")

    def test_rows_of_the_last_result_come_back_as_text(self):
        row = struct.pack("!h", 1) + struct.pack("!i", 1) + b"7"
        connection = self.server([
            message(b"C", b"BEGIN\0"), message(b"T", b"\0\0"), message(b"D", row), message(b"C", b"SELECT 1\0"),
            message(b"Z", b"T")])
        self.assertEqual(connection.query("BEGIN; SELECT 7"), [["7"]])

    def test_a_closed_connection_is_reported_as_such(self):
        connection = self.server([])
        with self.assertRaises(pgwire.ConnectionClosed):
            connection.query("SELECT 1")


if __name__ == "__main__":
    unittest.main()
