/* BLAKE2b (RFC 7693) of many short messages in one call: pseudonyms (keyed) and text hashes.
 *
 * Written by hand because nothing well kept does it: hashlib hashes one message per call, and
 * for a 20-byte id the call (a state copy, an update, a digest, a bytes object) costs several
 * times the hashing; OpenSSL 3.0 offers BLAKE2b only through EVP, with an allocation per
 * message, keyed only as a MAC, and no unkeyed digest shorter than 64 bytes (the digest length
 * is in BLAKE2b's parameter block: a truncated BLAKE2b-512 is another hash). The compression
 * function is the RFC's; the output is hashlib.blake2b's (checked against it in the tests).
 * The loop runs without the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_offsets.h"

#define BLOCK 128
#define MAX_OUT 64
#define MAX_KEY 64

static const uint64_t IV[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL,
    0xa54ff53a5f1d36f1ULL, 0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
    0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

/* Rounds 10 and 11 use rows 0 and 1 again (RFC 7693, section 3.2: SIGMA[i mod 10]). */
static const uint8_t SIGMA[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

typedef struct {
    uint64_t h[8];
    uint64_t t; /* bytes compressed so far (messages here are far below 2^64 bytes) */
} chain;

static inline uint64_t load64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline uint64_t rotr(uint64_t x, int n) { return (x >> n) | (x << (64 - n)); }

#define G(a, b, c, d, x, y)              \
    do {                                 \
        v[a] = v[a] + v[b] + (x);        \
        v[d] = rotr(v[d] ^ v[a], 32);    \
        v[c] = v[c] + v[d];              \
        v[b] = rotr(v[b] ^ v[c], 24);    \
        v[a] = v[a] + v[b] + (y);        \
        v[d] = rotr(v[d] ^ v[a], 16);    \
        v[c] = v[c] + v[d];              \
        v[b] = rotr(v[b] ^ v[c], 63);    \
    } while (0)

/* One block into the chain; ``t`` already counts it. */
static void compress(chain *s, const uint8_t block[BLOCK], int last) {
    uint64_t v[16], m[16];
    for (int i = 0; i < 16; i++) m[i] = load64(block + 8 * i);
    for (int i = 0; i < 8; i++) {
        v[i] = s->h[i];
        v[i + 8] = IV[i];
    }
    v[12] ^= s->t;
    if (last) v[14] = ~v[14];
    /* Unrolled: the message words' indices become constants, the words stay in registers. */
#pragma GCC unroll 12
    for (int r = 0; r < 12; r++) {
        const uint8_t *z = SIGMA[r % 10];
        G(0, 4, 8, 12, m[z[0]], m[z[1]]);
        G(1, 5, 9, 13, m[z[2]], m[z[3]]);
        G(2, 6, 10, 14, m[z[4]], m[z[5]]);
        G(3, 7, 11, 15, m[z[6]], m[z[7]]);
        G(0, 5, 10, 15, m[z[8]], m[z[9]]);
        G(1, 6, 11, 12, m[z[10]], m[z[11]]);
        G(2, 7, 8, 13, m[z[12]], m[z[13]]);
        G(3, 4, 9, 14, m[z[14]], m[z[15]]);
    }
    for (int i = 0; i < 8; i++) s->h[i] ^= v[i] ^ v[i + 8];
}

/* The message's blocks after ``s`` (the last one flagged, zero-padded), the digest out. */
static void finish(chain s, const uint8_t *msg, size_t len, uint8_t *out, size_t outlen) {
    uint8_t block[BLOCK];
    while (len > BLOCK) {
        s.t += BLOCK;
        compress(&s, msg, 0);
        msg += BLOCK;
        len -= BLOCK;
    }
    memset(block, 0, BLOCK);
    if (len) memcpy(block, msg, len);
    s.t += len;
    compress(&s, block, 1);
    for (size_t i = 0; i < outlen; i++) out[i] = (uint8_t)(s.h[i / 8] >> (8 * (i % 8)));
}

/* The digests of n messages (message i: data[off[i]:off[i + 1]]), ``outlen`` bytes each. With
 * a key, its padded block is BLAKE2b's first: compressed once here for every non-empty message
 * (it is never the last block then), and the last block of an empty one. */
static void digests(const uint8_t *key, size_t keylen, size_t outlen, const uint8_t *data,
                    const int32_t *off, Py_ssize_t n, uint8_t *out) {
    chain start;
    for (int i = 0; i < 8; i++) start.h[i] = IV[i];
    start.h[0] ^= 0x01010000ULL ^ ((uint64_t)keylen << 8) ^ (uint64_t)outlen;
    start.t = 0;
    chain keyed = start;
    uint8_t key_block[BLOCK];
    if (keylen) {
        memset(key_block, 0, BLOCK);
        memcpy(key_block, key, keylen);
        keyed.t = BLOCK;
        compress(&keyed, key_block, 0);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        size_t len = (size_t)(off[i + 1] - off[i]);
        uint8_t *digest = out + (size_t)i * outlen;
        if (keylen && len == 0)
            finish(start, key_block, BLOCK, digest, outlen);
        else
            finish(keylen ? keyed : start, data + off[i], len, digest, outlen);
    }
}

PyDoc_STRVAR(many_doc,
"many(key, size, data, offsets, /) -> bytes\n\n"
"BLAKE2b of data[offsets[i]:offsets[i + 1]] for each i, ``size`` bytes each, joined; keyed\n"
"with ``key`` unless it is empty: each digest is hashlib.blake2b(message, key=key,\n"
"digest_size=size).digest(). ``data`` and ``offsets`` (native int32, n + 1 of them) as an\n"
"Arrow binary array holds them.");

static PyObject *many(PyObject *self, PyObject *args) {
    Py_buffer key, data, offsets;
    Py_ssize_t size;
    if (!PyArg_ParseTuple(args, "y*ny*y*:many", &key, &size, &data, &offsets)) return NULL;
    PyObject *out = NULL;
    Py_ssize_t n = -1;
    if (key.len > MAX_KEY) {
        PyErr_Format(PyExc_ValueError, "a BLAKE2b key is at most %d bytes", MAX_KEY);
        goto done;
    }
    if (size < 1 || size > MAX_OUT) {
        PyErr_Format(PyExc_ValueError, "a BLAKE2b digest is 1 to %d bytes", MAX_OUT);
        goto done;
    }
    n = checked_messages(&offsets, data.len);
    if (n < 0) goto done;
    const int32_t *off = (const int32_t *)offsets.buf;
    out = PyBytes_FromStringAndSize(NULL, n * size);
    if (out == NULL) goto done;
    uint8_t *digest = (uint8_t *)PyBytes_AS_STRING(out);
    Py_BEGIN_ALLOW_THREADS
    digests((const uint8_t *)key.buf, (size_t)key.len, (size_t)size,
            (const uint8_t *)data.buf, off, n, digest);
    Py_END_ALLOW_THREADS
done:
    PyBuffer_Release(&key);
    PyBuffer_Release(&data);
    PyBuffer_Release(&offsets);
    return out;
}

static PyMethodDef methods[] = {
    {"many", many, METH_VARARGS, many_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "consentry._blake2b",
    "BLAKE2b of many short messages per call (RFC 7693; the loop without the GIL).",
    -1, methods,
};

PyMODINIT_FUNC PyInit__blake2b(void) { return PyModule_Create(&module); }
