import errno
import unittest
from unittest import mock

from chaos import wal_full


class FullDisk:
    """A file on a filesystem with `room` bytes left: writes fail with ENOSPC
    once a write no longer fits."""

    def __init__(self, room):
        self.room, self.written = room, 0

    def __enter__(self):
        return self

    def __exit__(self, *_):
        return False

    def write(self, data):
        if self.written + len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.written += len(data)
        return len(data)


class FillTests(unittest.TestCase):
    def test_the_filesystem_is_filled_to_the_last_page(self):
        disk = FullDisk(3 * (1 << 20) + 5 * 4096)
        with mock.patch("chaos.wal_full.open", create=True, return_value=disk):
            self.assertEqual(wal_full.fill("/mnt/pg_wal/filler"), disk.room)
        self.assertEqual(disk.written, disk.room, "megabytes first, then the pages that are left")

    def test_another_error_than_a_full_disk_is_not_swallowed(self):
        class Broken(FullDisk):
            def write(self, data):
                raise OSError(errno.EIO, "I/O error")
        with mock.patch("chaos.wal_full.open", create=True, return_value=Broken(0)):
            with self.assertRaises(OSError):
                wal_full.fill("/mnt/pg_wal/filler")


if __name__ == "__main__":
    unittest.main()
