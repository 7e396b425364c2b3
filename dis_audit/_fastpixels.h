/* What the source files of dis_audit._fastpixels share: the buffer helper and the entry points of the kernels
 * defined in _fastpixels_mask.c, _fastpixels_contrast.c and _fastpixels_reduce.c (listed in the module table of
 * _fastpixels.c). */
#ifndef DIS_AUDIT_FASTPIXELS_H
#define DIS_AUDIT_FASTPIXELS_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

/* A C-contiguous buffer of `obj` with its item size; writable when asked. */
static inline int get_buffer(PyObject *obj, Py_buffer *view, int writable) {
    return PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0));
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
