/* What the source files of dis_audit._fastpixels share: the buffer helper and the entry points of the kernels
 * defined in _fastpixels_mask.c, _fastpixels_contrast.c and _fastpixels_reduce.c (listed in the module table of
 * _fastpixels.c). */
#ifndef DIS_AUDIT_FASTPIXELS_H
#define DIS_AUDIT_FASTPIXELS_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

/* A C-contiguous buffer of `obj` with its item size; writable when asked. */
static inline int get_buffer(PyObject *obj, Py_buffer *view, int writable) {
    return PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0));
}

/* get_buffer of `n` (PyObject *obj, Py_buffer *view, int writable) triples, in order (at most 8). All or none:
 * where one fails, the views already taken are released and -1 returned with Python's error set. */
static inline int get_buffers(int n, ...) {
    Py_buffer *taken[8];
    int got = 0, status = 0;
    va_list args;
    va_start(args, n);
    for (; got < n && got < 8; got++) {
        PyObject *obj = va_arg(args, PyObject *);
        Py_buffer *view = va_arg(args, Py_buffer *);
        int writable = va_arg(args, int);
        if (get_buffer(obj, view, writable) < 0) {
            status = -1;
            break;
        }
        taken[got] = view;
    }
    va_end(args);
    if (status < 0)
        while (got > 0) PyBuffer_Release(taken[--got]);
    return status;
}

/* PyBuffer_Release of `n` views (Py_buffer *), as get_buffers took them. */
static inline void release_buffers(int n, ...) {
    va_list args;
    va_start(args, n);
    for (int k = 0; k < n; k++) PyBuffer_Release(va_arg(args, Py_buffer *));
    va_end(args);
}

PyObject *fp_edge_map(PyObject *self, PyObject *args);
PyObject *fp_placement_sums(PyObject *self, PyObject *args);
PyObject *fp_mask_counts(PyObject *self, PyObject *args);
PyObject *fp_even_points(PyObject *self, PyObject *args);
PyObject *fp_band_masks(PyObject *self, PyObject *args);
PyObject *fp_tile_means(PyObject *self, PyObject *args);
PyObject *fp_box_reduce(PyObject *self, PyObject *args);
PyObject *fp_box_reduce_rgb(PyObject *self, PyObject *args);

#endif
