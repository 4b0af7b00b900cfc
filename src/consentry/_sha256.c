/* SHA-256 of many short messages in one call, for the Merkle trees (RFC 6962 leaves and nodes).
 *
 * Written by hand because nothing well kept does it: hashlib hashes one message per call, and
 * for a 40-byte leaf the call costs ten times the hashing (about 0.5 us against 0.05 us with
 * OpenSSL's SHA-NI code); polars-hash returns hex strings, DuckDB's sha256 costs 0.3 us a value.
 * The hashing itself is OpenSSL's, the one hashlib uses: only the loop is here. The loop runs
 * without the GIL, so threads hash shards side by side.
 */
#define PY_SSIZE_T_CLEAN
/* SHA256_Init and friends are deprecated in OpenSSL 3 in favour of EVP, whose per-message
 * context copy costs more than a short message's hashing; they remain in libcrypto 3. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <Python.h>
#include <openssl/sha.h>

#include "_offsets.h"
#include <stdint.h>

/* The digests of n messages after ``prefix``: message i is bytes[off[i]:off[i + 1]] when
 * ``off`` is given, else the i-th ``width`` bytes. A new bytes object, or NULL with an error. */
static PyObject *digests(Py_buffer *prefix, const unsigned char *bytes, const int32_t *off,
                         Py_ssize_t width, Py_ssize_t n) {
    PyObject *out = PyBytes_FromStringAndSize(NULL, n * SHA256_DIGEST_LENGTH);
    if (out == NULL) return NULL;
    unsigned char *digest = (unsigned char *)PyBytes_AS_STRING(out);
    int ok = 1;
    Py_BEGIN_ALLOW_THREADS
    SHA256_CTX base, ctx;
    ok = SHA256_Init(&base) &&
         (prefix->len == 0 || SHA256_Update(&base, prefix->buf, (size_t)prefix->len));
    for (Py_ssize_t i = 0; ok && i < n; i++) {
        const unsigned char *at = off ? bytes + off[i] : bytes + i * width;
        size_t len = off ? (size_t)(off[i + 1] - off[i]) : (size_t)width;
        ctx = base;
        ok = SHA256_Update(&ctx, at, len) && SHA256_Final(digest + i * SHA256_DIGEST_LENGTH, &ctx);
    }
    Py_END_ALLOW_THREADS
    if (!ok) {
        Py_CLEAR(out);
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL's SHA-256 failed");
    }
    return out;
}

PyDoc_STRVAR(many_doc,
"many(prefix, data, offsets, /) -> bytes\n\n"
"The SHA-256 of prefix + data[offsets[i]:offsets[i + 1]] for each i, joined (32 bytes each):\n"
"``data`` and ``offsets`` (native int32, n + 1 of them) as an Arrow binary array holds them.");

static PyObject *many(PyObject *self, PyObject *args) {
    Py_buffer prefix, data, offsets;
    if (!PyArg_ParseTuple(args, "y*y*y*:many", &prefix, &data, &offsets)) return NULL;
    PyObject *out = NULL;
    Py_ssize_t n = checked_messages(&offsets, data.len);
    if (n >= 0)
        out = digests(&prefix, (const unsigned char *)data.buf, (const int32_t *)offsets.buf, 0, n);
    PyBuffer_Release(&prefix);
    PyBuffer_Release(&data);
    PyBuffer_Release(&offsets);
    return out;
}

PyDoc_STRVAR(fixed_doc,
"fixed(prefix, data, width, /) -> bytes\n\n"
"The SHA-256 of prefix + each ``width``-byte piece of ``data``, joined (32 bytes each).");

static PyObject *fixed(PyObject *self, PyObject *args) {
    Py_buffer prefix, data;
    Py_ssize_t width;
    if (!PyArg_ParseTuple(args, "y*y*n:fixed", &prefix, &data, &width)) return NULL;
    PyObject *out = NULL;
    if (width <= 0 || data.len % width != 0) {
        PyErr_Format(PyExc_ValueError, "%zd bytes are not pieces of %zd", data.len, width);
    } else {
        out = digests(&prefix, (const unsigned char *)data.buf, NULL, width, data.len / width);
    }
    PyBuffer_Release(&prefix);
    PyBuffer_Release(&data);
    return out;
}

static PyMethodDef methods[] = {
    {"many", many, METH_VARARGS, many_doc},
    {"fixed", fixed, METH_VARARGS, fixed_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "consentry._sha256",
    "SHA-256 of many short messages per call (OpenSSL's hashing, the loop without the GIL).",
    -1, methods,
};

PyMODINIT_FUNC PyInit__sha256(void) { return PyModule_Create(&module); }
