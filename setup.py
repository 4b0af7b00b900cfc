"""The one thing pyproject.toml cannot yet say without an experimental table: the C extension.

``consentry._sha256`` hashes Merkle leaves and nodes many per call (``src/consentry/_sha256.c``
says why); the hashing is OpenSSL's libcrypto, the one CPython's hashlib links.
``consentry._blake2b`` does the same for BLAKE2b (pseudonyms, text hashes), on its own;
``consentry._idhash`` for the bucket hash of ids; ``consentry._splice`` splices replacements
into string rows.
"""

from setuptools import Extension, setup

#: The offsets check the extensions share.
OFFSETS = "src/consentry/_offsets.h"

setup(
    ext_modules=[
        Extension(
            "consentry._sha256",
            sources=["src/consentry/_sha256.c"],
            depends=[OFFSETS],
            libraries=["crypto"],
        ),
        Extension(
            "consentry._blake2b",
            sources=["src/consentry/_blake2b.c"],
            depends=[OFFSETS],
            extra_compile_args=["-O3"],
        ),
        Extension(
            "consentry._idhash",
            sources=["src/consentry/_idhash.c"],
            depends=[OFFSETS],
            extra_compile_args=["-O3"],
        ),
        Extension(
            "consentry._splice",
            sources=["src/consentry/_splice.c"],
            depends=[OFFSETS],
            extra_compile_args=["-O3"],
        ),
    ]
)
