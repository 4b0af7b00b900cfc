/* The one check the hashing extensions make of an Arrow binary array's offsets. */
#ifndef CONSENTRY_OFFSETS_H
#define CONSENTRY_OFFSETS_H
#include <Python.h>
#include <stdint.h>

/* The number of messages ``offsets`` (native int32, n + 1 of them) cut ``data_len`` bytes
 * into, or -1 with a ValueError set when they do not: not whole int32 values, negative,
 * decreasing, or past the data. */
static Py_ssize_t checked_messages(const Py_buffer *offsets, Py_ssize_t data_len) {
    Py_ssize_t n = offsets->len / 4 - 1;
    const int32_t *off = (const int32_t *)offsets->buf;
    if (offsets->len % 4 != 0 || n < 0) {
        PyErr_SetString(PyExc_ValueError, "offsets: n + 1 int32 values are needed");
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (off[i] < 0 || off[i] > off[i + 1] || off[i + 1] > data_len) {
            PyErr_Format(PyExc_ValueError, "offsets[%zd]: outside the data or decreasing", i);
            return -1;
        }
    }
    return n;
}

#endif
