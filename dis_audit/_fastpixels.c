/* The deep scan's pixel kernels in C (dis_audit._fastpixels; this file: the picture's, and the module table;
 * _fastpixels_mask.c: the mask–image agreement's; _fastpixels_contrast.c: its contrast's; _fastpixels_reduce.c:
 * Pillow's box reduction).
 *
 * Each computes exactly what its numpy or Pillow definition gives (dis_audit.sharpness, dis_audit.maskfit,
 * dis_audit.deep, dis_audit.pixels; tests/test_fastpixels.py compares them on random and generated pictures,
 * and the measures whole with the kernels on and off); where the extension is not built, those run instead.
 *
 * Why C: the numpy versions take a dozen passes and calls over a few ten thousand pixels each, and at 768 px the
 * DA6xx measures cost about half as much again as the decode before them (issue 14 asks for at most a quarter).
 */
#include "_fastpixels.h"

#define GREY_BINS 256

/* The grey levels of `n` pixels, added to `grey`: four partial histograms, so that runs of equal pixels do
 * not wait on one counter. */
static void grey_counts(const uint8_t *px, Py_ssize_t n, int64_t *grey) {
    int64_t part[4][GREY_BINS];
    memset(part, 0, sizeof part);
    Py_ssize_t j = 0;
    for (; j + 4 <= n; j += 4) {
        part[0][px[j]]++;
        part[1][px[j + 1]]++;
        part[2][px[j + 2]]++;
        part[3][px[j + 3]]++;
    }
    for (; j < n; j++) part[0][px[j]]++;
    for (int v = 0; v < GREY_BINS; v++) grey[v] += part[0][v] + part[1][v] + part[2][v] + part[3][v];
}

/* |next - previous| and |previous + next - 2 * pixel| at every pixel but a line's first and last, for `n`
 * lines of `length` (>= 3) pixels end to end, written to d1 and d2; their largest values raise *top1, *top2.
 * Branch-free, so that the compiler writes vector code. */
static void derivatives(const uint8_t *px, Py_ssize_t n, Py_ssize_t length, uint16_t *d1, uint16_t *d2,
                        uint16_t *top1, uint16_t *top2) {
    Py_ssize_t inner = length - 2;
    uint16_t t1 = *top1, t2 = *top2;
    for (Py_ssize_t i = 0; i < n; i++) {
        const uint8_t *x = px + i * length;
        uint16_t *o1 = d1 + i * inner, *o2 = d2 + i * inner;
        for (Py_ssize_t c = 0; c < inner; c++) {
            int16_t a = (int16_t)((int16_t)x[c + 2] - (int16_t)x[c]);
            int16_t b = (int16_t)((int16_t)x[c + 2] + (int16_t)x[c] - 2 * (int16_t)x[c + 1]);
            uint16_t ua = (uint16_t)(a < 0 ? -a : a), ub = (uint16_t)(b < 0 ? -b : b);
            o1[c] = ua;
            o2[c] = ub;
            t1 = ua > t1 ? ua : t1;
            t2 = ub > t2 ? ub : t2;
        }
    }
    *top1 = t1;
    *top2 = t2;
}

/* How many of d's `n` values are >= t: 16-bit counters over blocks too short to overflow them (vector code). */
static Py_ssize_t count_at_least(const uint16_t *d, Py_ssize_t n, uint16_t t) {
    Py_ssize_t total = 0;
    for (Py_ssize_t i0 = 0; i0 < n; i0 += 32768) {
        Py_ssize_t i1 = i0 + 32768 < n ? i0 + 32768 : n;
        uint16_t c = 0;
        for (Py_ssize_t i = i0; i < i1; i++) c += d[i] >= t;
        total += c;
    }
    return total;
}

/* The k-th largest of d's `n` values (1 <= k <= n), `top` being their largest: the largest t with at least k
 * values >= t, by bisection (a value counts faster than a sort or a histogram of 50,000 of them). */
static uint16_t kth_largest(const uint16_t *d, Py_ssize_t n, Py_ssize_t k, uint16_t top) {
    uint16_t lo = 0, hi = top; /* at least k values are >= lo; the answer lies in [lo, hi] */
    while (lo < hi) {
        uint16_t mid = (uint16_t)((lo + hi + 1) / 2);
        if (count_at_least(d, n, mid) >= k)
            lo = mid;
        else
            hi = (uint16_t)(mid - 1);
    }
    return lo;
}

/* line_stats(rows, row_length, cols, col_length, k, grey) -> (first, second): the blur measure's statistics of
 * two sets of lines (uint8; `rows` holds lines of `row_length` pixels end to end, `cols` lines of
 * `col_length`): the k-th largest |next - previous| and the k-th largest |previous + next - 2 * pixel| over
 * every pixel but a line's first and last (both sets together); and the grey levels of every pixel, added to
 * `grey` (int64[256]). */
static PyObject *line_stats(PyObject *self, PyObject *args) {
    PyObject *rows_obj, *cols_obj, *grey_obj;
    Py_ssize_t row_length, col_length, k;
    if (!PyArg_ParseTuple(args, "OnOnnO", &rows_obj, &row_length, &cols_obj, &col_length, &k, &grey_obj)) return NULL;
    Py_buffer rows, cols, grey;
    if (get_buffers(3, rows_obj, &rows, 0, cols_obj, &cols, 0, grey_obj, &grey, 1) < 0) return NULL;
    PyObject *result = NULL;
    Py_ssize_t nr = row_length > 0 ? rows.len / row_length : 0, nc = col_length > 0 ? cols.len / col_length : 0;
    Py_ssize_t total = nr * (row_length - 2) + nc * (col_length - 2);
    if (row_length < 3 || col_length < 3 || rows.len % row_length != 0 || cols.len % col_length != 0 ||
        rows.itemsize != 1 || cols.itemsize != 1 || grey.itemsize != 8 || grey.len != 8 * GREY_BINS ||
        k < 1 || k > total) {
        PyErr_SetString(PyExc_ValueError, "line_stats: rows and cols must be uint8 lines of at least 3 pixels, "
                                          "1 <= k <= their derivative pixels, grey int64[256]");
        goto done;
    }
    uint16_t *d1 = PyMem_RawMalloc(sizeof(uint16_t) * (size_t)(2 * total));
    if (!d1) {
        PyErr_NoMemory();
        goto done;
    }
    uint16_t *d2 = d1 + total, top1 = 0, top2 = 0, first, second;
    Py_BEGIN_ALLOW_THREADS
    grey_counts(rows.buf, rows.len, grey.buf);
    grey_counts(cols.buf, cols.len, grey.buf);
    Py_ssize_t split = nr * (row_length - 2);
    derivatives(rows.buf, nr, row_length, d1, d2, &top1, &top2);
    derivatives(cols.buf, nc, col_length, d1 + split, d2 + split, &top1, &top2);
    first = kth_largest(d1, total, k, top1);
    second = kth_largest(d2, total, k, top2);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(d1);
    result = Py_BuildValue("ii", (int)first, (int)second);
done:
    release_buffers(3, &rows, &cols, &grey);
    return result;
}

/* gather(pixels, width, channels, ys, xs, kind, transpose, out): the pixels (ys[i], xs[j]) of a picture (uint8,
 * rows of `width` pixels of `channels` bytes: 1 for "L", 4 for Pillow's "RGB", whose 4th byte is unused), as
 * one byte each, into out (uint8, len(ys) x len(xs), or len(xs) x len(ys) when `transpose`): kind 0, the grey
 * level (an "L" pixel itself; for RGB, Pillow's convert("L"): (19595 R + 38470 G + 7471 B + 0x8000) >> 16);
 * kind 1, the largest channel minus the smallest (RGB only). ys and xs are int64 positions inside the picture. */
static PyObject *gather(PyObject *self, PyObject *args) {
    PyObject *pix_obj, *ys_obj, *xs_obj, *out_obj;
    Py_ssize_t w, ch;
    int kind, transpose;
    if (!PyArg_ParseTuple(args, "OnnOOiiO", &pix_obj, &w, &ch, &ys_obj, &xs_obj, &kind, &transpose, &out_obj))
        return NULL;
    Py_buffer pix, ys, xs, out;
    if (get_buffers(4, pix_obj, &pix, 0, ys_obj, &ys, 0, xs_obj, &xs, 0, out_obj, &out, 1) < 0) return NULL;
    PyObject *result = NULL;
    Py_ssize_t ny = ys.len / 8, nx = xs.len / 8;
    if (w < 1 || (ch != 1 && ch != 4) || (kind != 0 && kind != 1) || (kind == 1 && ch != 4) || pix.itemsize != 1 ||
        pix.len % (w * ch) != 0 || ys.itemsize != 8 || xs.itemsize != 8 || out.itemsize != 1 || out.len != ny * nx) {
        PyErr_SetString(PyExc_ValueError, "gather: pixels uint8 rows of width x channels (1 or 4), ys and xs int64, "
                                          "out uint8 of len(ys) x len(xs), kind 1 for RGB only");
        goto done;
    }
    Py_ssize_t h = pix.len / (w * ch);
    const int64_t *y = ys.buf, *x = xs.buf;
    for (Py_ssize_t i = 0; i < ny; i++)
        if (y[i] < 0 || y[i] >= h) goto outside;
    for (Py_ssize_t j = 0; j < nx; j++)
        if (x[j] < 0 || x[j] >= w) goto outside;
    const uint8_t *p = pix.buf;
    uint8_t *o = out.buf;
    /* Whole rows (xs = 0 .. width - 1, not transposed): a plain loop over each row, which the compiler vectorises. */
    int whole = !transpose && kind == 0 && nx == w && (nx == 0 || (x[0] == 0 && x[nx - 1] == nx - 1));
    for (Py_ssize_t j = 1; whole && j < nx; j++) whole = x[j] == j;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; whole && i < ny; i++) {
        const uint8_t *q = p + y[i] * w * ch;
        uint8_t *line = o + i * nx;
        if (ch == 1)
            memcpy(line, q, (size_t)nx);
        else
            for (Py_ssize_t j = 0; j < nx; j++)
                line[j] = (uint8_t)((q[4 * j] * 19595u + q[4 * j + 1] * 38470u + q[4 * j + 2] * 7471u + 0x8000u) >> 16);
    }
    for (Py_ssize_t i = 0; !whole && i < ny; i++) {
        const uint8_t *row = p + y[i] * w * ch;
        for (Py_ssize_t j = 0; j < nx; j++) {
            const uint8_t *q = row + x[j] * ch;
            uint8_t v;
            if (ch == 1) {
                v = q[0];
            } else if (kind == 0) {
                v = (uint8_t)((q[0] * 19595u + q[1] * 38470u + q[2] * 7471u + 0x8000u) >> 16);
            } else {
                uint8_t hi = q[0] > q[1] ? q[0] : q[1], lo = q[0] < q[1] ? q[0] : q[1];
                hi = q[2] > hi ? q[2] : hi;
                lo = q[2] < lo ? q[2] : lo;
                v = (uint8_t)(hi - lo);
            }
            o[transpose ? j * ny + i : i * nx + j] = v;
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
    goto done;
outside:
    PyErr_SetString(PyExc_ValueError, "gather: a position lies outside the picture");
done:
    release_buffers(4, &pix, &ys, &xs, &out);
    return result;
}

/* kth_largest_u8(values, k) -> int: the k-th largest (1 <= k <= len) of uint8 values (quality._top). */
static PyObject *kth_largest_u8(PyObject *self, PyObject *args) {
    PyObject *obj;
    Py_ssize_t k;
    if (!PyArg_ParseTuple(args, "On", &obj, &k)) return NULL;
    Py_buffer v;
    if (get_buffer(obj, &v, 0) < 0) return NULL;
    if (v.itemsize != 1 || k < 1 || k > v.len) {
        PyBuffer_Release(&v);
        PyErr_SetString(PyExc_ValueError, "kth_largest_u8: uint8 values and 1 <= k <= their number");
        return NULL;
    }
    int64_t counts[GREY_BINS] = {0};
    grey_counts(v.buf, v.len, counts);
    PyBuffer_Release(&v);
    int value = GREY_BINS - 1;
    for (Py_ssize_t seen = 0; value > 0; value--) {
        seen += counts[value];
        if (seen >= k) break;
    }
    return PyLong_FromLong(value);
}

static PyMethodDef methods[] = {
    {"line_stats", line_stats, METH_VARARGS,
     "line_stats(rows, row_length, cols, col_length, k, grey) -> (k-th largest first, second derivative)."},
    {"edge_map", fp_edge_map, METH_VARARGS, "edge_map(pic, width, out): the agreement's edge map of pic into out."},
    {"placement_sums", fp_placement_sums, METH_VARARGS,
     "placement_sums(edges, width, rows, cols, dy0, ny, step_y, dx0, nx, step_x, out): edge sums per placement."},
    {"mask_counts", fp_mask_counts, METH_VARARGS,
     "mask_counts(mask, width) -> (zeros, 255s, foreground, largest value, outline edges)."},
    {"gather", gather, METH_VARARGS,
     "gather(pixels, width, channels, ys, xs, kind, transpose, out): grey levels or channel spreads at (ys, xs)."},
    {"kth_largest_u8", kth_largest_u8, METH_VARARGS, "kth_largest_u8(values, k) -> the k-th largest uint8 value."},
    {"even_points", fp_even_points, METH_VARARGS,
     "even_points(values, width, lo, span, n, rows, cols) -> count: an even sample of the pixels in a value range."},
    {"band_masks", fp_band_masks, METH_VARARGS,
     "band_masks(fg, width, band, inner, outer): the foreground and background pixels within `band` of the other."},
    {"tile_means", fp_tile_means, METH_VARARGS,
     "tile_means(pic, width, rows_in, cols_in, rows_out, cols_out, tile, dy0, ny, step_y, dx0, nx, step_x, "
     "means_in, means_out, weight) -> n: the bands' mean grey per tile at every placement."},
    {"box_reduce", fp_box_reduce, METH_VARARGS,
     "box_reduce(pixels, width, factor, table, out): Pillow's reduce over the whole boxes of an L picture."},
    {"box_reduce_rgb", fp_box_reduce_rgb, METH_VARARGS,
     "box_reduce_rgb(pixels, width, factor, table, grey, out): Pillow's reduce over the whole boxes of an RGB "
     "picture, or its grey levels."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastpixels", NULL, -1, methods};

PyMODINIT_FUNC PyInit__fastpixels(void) { return PyModule_Create(&module); }
