"""Smoke check of the python image: import and use a broad part of the stdlib."""

import bz2
import ctypes
import ctypes.util
import decimal
import hashlib
import json
import lzma
import platform
import sqlite3
import ssl
import uuid
import zlib
import zoneinfo

try:
    import readline  # optional: needs libreadline and libtinfo
except ImportError:
    readline = None

data = b"distroless " * 100
assert zlib.decompress(zlib.compress(data)) == data
assert bz2.decompress(bz2.compress(data)) == data
assert lzma.decompress(lzma.compress(data)) == data
assert json.loads(json.dumps({"a": [1, 2]})) == {"a": [1, 2]}
assert hashlib.sha256(b"abc").hexdigest().startswith("ba7816bf")
assert decimal.Decimal("1.1") + decimal.Decimal("2.2") == decimal.Decimal("3.3")
con = sqlite3.connect(":memory:")
con.execute("create table t (x)")
con.execute("insert into t values (42)")
assert con.execute("select x from t").fetchone() == (42,)
assert ctypes.sizeof(ctypes.c_int) == 4
context = ssl.create_default_context()
assert context.cert_store_stats()["x509_ca"] > 100, context.cert_store_stats()
paris = zoneinfo.ZoneInfo("Europe/Paris")
assert uuid.uuid4().version == 4
print(f"python {platform.python_version()} on {platform.machine()}; "
      f"{ssl.OPENSSL_VERSION}; sqlite {sqlite3.sqlite_version}; tz {paris}; "
      f"readline {'yes' if readline else 'no'}")
print("stdlib check passed")
