#!/usr/bin/python3
"""fsync-commits.py - the disk's bound on paserver's write rate.

  fsync-commits.py FILE [SECONDS]

Commits per second of the simplest SQLite write loop on FILE's disk, with
the store's settings (PRAGMA journal_mode=WAL, synchronous=FULL): one
BEGIN IMMEDIATE; INSERT of a 200-byte row; COMMIT after the other, for
SECONDS (default 3), one connection.  In WAL mode with synchronous=FULL
every commit syncs the WAL file, and SQLite has one writer at a time, so
this is about the most write transactions per second paserver can make
on that disk.  FILE (and its -wal, -shm) is replaced and removed.  Prints:

  RESULT <commits/s> <commits> <seconds>
"""

import os
import sqlite3
import sys
import time


def main():
    if len(sys.argv) not in (2, 3):
        sys.stderr.write(__doc__)
        return 2
    path = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) == 3 else 3.0
    files = (path, path + "-wal", path + "-shm")
    for f in files:
        if os.path.exists(f):
            os.unlink(f)
    db = sqlite3.connect(path, isolation_level=None)
    mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    db.execute("PRAGMA synchronous=FULL")
    if mode != "wal" or db.execute("PRAGMA synchronous").fetchone()[0] != 2:
        sys.stderr.write("fsync-commits: WAL/FULL not in effect\n")
        return 1
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
    row = os.urandom(200)
    n = 0
    start = time.monotonic()
    while True:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t (v) VALUES (?)", (row,))
        db.execute("COMMIT")
        n += 1
        elapsed = time.monotonic() - start
        if elapsed >= seconds:
            break
    db.close()
    for f in files:
        if os.path.exists(f):
            os.unlink(f)
    print("RESULT %.0f %d %.2f" % (n / elapsed, n, elapsed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
