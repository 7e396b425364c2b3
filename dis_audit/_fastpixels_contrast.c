/* The contrast signal's kernels of dis_audit._fastpixels (see _fastpixels.c; maskfit._contrast has the numpy
 * definitions): the bands just inside and just outside a mask's outline, and the mean grey of each band per tile at
 * every coarse placement. */
#include "_fastpixels.h"

/* band_masks(fg, width, band, inner, outer): the contrast's bands (maskfit._bands) of the foreground `fg` (1 byte a
 * pixel, 0 or 1: a bool array; rows of `width`): into inner, the foreground pixels with a background pixel within
 * `band` in each direction (a (2 band + 1)² box cut at the picture's border); into outer, the background pixels with
 * a foreground one; 1 or 0 each (1 byte a pixel, fg's shape). By rows, then columns: a box holds a foreground
 * (background) pixel when one of its rows' windows does. */
PyObject *fp_band_masks(PyObject *self, PyObject *args) {
    PyObject *fg_obj, *inner_obj, *outer_obj;
    Py_ssize_t w, band;
    if (!PyArg_ParseTuple(args, "OnnOO", &fg_obj, &w, &band, &inner_obj, &outer_obj)) return NULL;
    Py_buffer fg, inner, outer;
    if (get_buffers(3, fg_obj, &fg, 0, inner_obj, &inner, 1, outer_obj, &outer, 1) < 0) return NULL;
    PyObject *result = NULL;
    if (w < 1 || band < 0 || fg.itemsize != 1 || fg.len % w != 0 || inner.itemsize != 1 || outer.itemsize != 1 ||
        inner.len != fg.len || outer.len != fg.len) {
        PyErr_SetString(PyExc_ValueError, "band_masks: fg 1-byte rows of `width`, band >= 0, inner and outer 1-byte "
                                          "arrays of fg's shape");
        goto done;
    }
    Py_ssize_t h = fg.len / w;
    /* across: bit 0 set where the row's window holds a foreground pixel, bit 1 a background one; pad: a row's bits
     * with `band` empty bytes at each end. Each window is the OR of 2 band + 1 shifted copies: loops over whole rows
     * that the compiler vectorises. */
    uint8_t *across = PyMem_RawMalloc((size_t)(fg.len + w + 2 * band + 1));
    if (!across) {
        PyErr_NoMemory();
        goto done;
    }
    uint8_t *pad = across + fg.len, *acc = pad; /* pad serves the rows, then acc (w bytes) the columns */
    const uint8_t *f = fg.buf;
    uint8_t *in = inner.buf, *out = outer.buf;
    Py_BEGIN_ALLOW_THREADS
    size_t n = (size_t)w, reach = (size_t)(2 * band);
    memset(pad, 0, n + reach);
    for (Py_ssize_t y = 0; y < h; y++) {
        const uint8_t *restrict row = f + y * w;
        uint8_t *restrict a = across + y * w, *restrict p = pad + band;
        for (size_t x = 0; x < n; x++) p[x] = (uint8_t)(2 - (row[x] != 0));
        memset(a, 0, n);
        for (size_t d = 0; d <= reach; d++) {
            const uint8_t *restrict src = pad + d;
            for (size_t x = 0; x < n; x++) a[x] |= src[x];
        }
    }
    for (Py_ssize_t y = 0; y < h; y++) {
        Py_ssize_t lo = y - band > 0 ? y - band : 0, hi = y + band < h - 1 ? y + band : h - 1;
        uint8_t *restrict bits = acc;
        memset(bits, 0, n);
        for (Py_ssize_t i = lo; i <= hi; i++) {
            const uint8_t *restrict src = across + i * w;
            for (size_t x = 0; x < n; x++) bits[x] |= src[x];
        }
        const uint8_t *restrict row = f + y * w;
        uint8_t *restrict ri = in + y * w, *restrict ro = out + y * w;
        for (size_t x = 0; x < n; x++) {
            uint8_t is_fg = (uint8_t)(row[x] != 0);
            ri[x] = (uint8_t)(is_fg & (bits[x] >> 1));
            ro[x] = (uint8_t)((is_fg ^ 1) & bits[x] & 1);
        }
    }
    Py_END_ALLOW_THREADS
    PyMem_RawFree(across);
    result = Py_None;
    Py_INCREF(result);
done:
    release_buffers(3, &fg, &inner, &outer);
    return result;
}

/* tile_means(pic, width, rows_in, cols_in, rows_out, cols_out, tile, dy0, ny, step_y, dx0, nx, step_x, means_in,
 * means_out, weight) -> n: maskfit's tile means of two bands of points (int64 rows and columns of `pic`, uint8 rows
 * of `width`), over the n tiles (`tile` px squares, numbered row-major) that both bands reach, in ascending order:
 * for every placement (dy0 + i step_y, dx0 + j step_x) (row-major over (i, j)), the mean grey of each band's points
 * of the tile moved by it, a point moved off the picture reading its nearest border pixel (the edge-padded
 * picture's gather); into means_in and means_out (float64, room for ny nx x the tiles of the picture; the first
 * ny nx n hold (placement, tile) row-major), and the fewer of the two bands' points per tile into weight (float32,
 * room for the tiles). A mean is the integer sum over the count, in double precision, as numpy divides them. */
PyObject *fp_tile_means(PyObject *self, PyObject *args) {
    PyObject *pic_obj, *ri_obj, *ci_obj, *ro_obj, *co_obj, *mi_obj, *mo_obj, *wt_obj;
    Py_ssize_t w, tile, dy0, ny, sy, dx0, nx, sx;
    if (!PyArg_ParseTuple(args, "OnOOOOnnnnnnnOOO", &pic_obj, &w, &ri_obj, &ci_obj, &ro_obj, &co_obj, &tile, &dy0, &ny,
                          &sy, &dx0, &nx, &sx, &mi_obj, &mo_obj, &wt_obj))
        return NULL;
    PyObject *objs[8] = {pic_obj, ri_obj, ci_obj, ro_obj, co_obj, mi_obj, mo_obj, wt_obj};
    Py_buffer b[8];
    int got = 0;
    PyObject *result = NULL;
    int64_t *sums = NULL;
    for (; got < 8; got++)
        if (get_buffer(objs[got], &b[got], got >= 5) < 0) goto done;
    Py_buffer *pic = &b[0], *mi = &b[5], *mo = &b[6], *wt = &b[7];
    Py_ssize_t h = w > 0 ? pic->len / w : 0, ntx = tile > 0 ? (w + tile - 1) / tile : 0;
    Py_ssize_t nt = ntx * (tile > 0 ? (h + tile - 1) / tile : 0), np_ = ny * nx;
    int ok = w >= 1 && tile >= 1 && ny >= 1 && nx >= 1 && pic->itemsize == 1 && pic->len % w == 0 && h >= 1;
    for (int k = 1; k < 5; k++) ok = ok && b[k].itemsize == 8;
    ok = ok && b[1].len == b[2].len && b[3].len == b[4].len && mi->itemsize == 8 && mo->itemsize == 8 &&
         mi->len >= 8 * np_ * nt && mo->len >= 8 * np_ * nt && wt->itemsize == 4 && wt->len >= 4 * nt;
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "tile_means: pic uint8 rows of `width`, rows and cols int64 in pairs of one "
                                          "length, means float64 and weight float32 with room for every tile");
        goto done;
    }
    const int64_t *pts[4] = {b[1].buf, b[2].buf, b[3].buf, b[4].buf};
    Py_ssize_t npts[2] = {b[1].len / 8, b[3].len / 8};
    for (int band = 0; band < 2; band++)
        for (Py_ssize_t p = 0; p < npts[band]; p++)
            if (pts[2 * band][p] < 0 || pts[2 * band][p] >= h || pts[2 * band + 1][p] < 0 || pts[2 * band + 1][p] >= w) {
                PyErr_SetString(PyExc_ValueError, "tile_means: a point lies outside the picture");
                goto done;
            }
    /* counts[band][tile], then the tiles both bands reach numbered in order (slot[tile], -1 for the others) */
    sums = PyMem_RawCalloc((size_t)(2 * nt + nt + 2 * np_ * nt + 1), sizeof(int64_t));
    if (!sums) {
        PyErr_NoMemory();
        goto done;
    }
    int64_t *counts = sums + 2 * np_ * nt, *slot = counts + 2 * nt;
    const uint8_t *g = pic->buf;
    double *means[2] = {mi->buf, mo->buf};
    float *weight = wt->buf;
    Py_ssize_t n = 0;
    Py_BEGIN_ALLOW_THREADS
    for (int band = 0; band < 2; band++)
        for (Py_ssize_t p = 0; p < npts[band]; p++)
            counts[band * nt + (pts[2 * band][p] / tile) * ntx + pts[2 * band + 1][p] / tile]++;
    for (Py_ssize_t t = 0; t < nt; t++) {
        if (counts[t] > 0 && counts[nt + t] > 0) {
            weight[n] = (float)(counts[t] < counts[nt + t] ? counts[t] : counts[nt + t]);
            slot[t] = n++;
        } else {
            slot[t] = -1;
        }
    }
    /* sums[band][placement][slot] */
    for (int band = 0; band < 2; band++) {
        int64_t *acc = sums + band * np_ * nt;
        for (Py_ssize_t p = 0; p < npts[band]; p++) {
            Py_ssize_t r = pts[2 * band][p], c = pts[2 * band + 1][p], at = slot[(r / tile) * ntx + c / tile];
            if (at < 0) continue;
            for (Py_ssize_t i = 0; i < ny; i++) {
                Py_ssize_t y = r + dy0 + i * sy;
                y = y < 0 ? 0 : (y >= h ? h - 1 : y);
                const uint8_t *line = g + y * w;
                int64_t *a = acc + i * nx * n + at;
                for (Py_ssize_t j = 0; j < nx; j++) {
                    Py_ssize_t x = c + dx0 + j * sx;
                    x = x < 0 ? 0 : (x >= w ? w - 1 : x);
                    a[j * n] += line[x];
                }
            }
        }
        for (Py_ssize_t q = 0; q < np_; q++)
            for (Py_ssize_t t = 0; t < nt; t++)
                if (slot[t] >= 0)
                    means[band][q * n + slot[t]] = (double)acc[q * n + slot[t]] / (double)counts[band * nt + t];
    }
    Py_END_ALLOW_THREADS
    result = PyLong_FromSsize_t(n);
done:
    PyMem_RawFree(sums);
    for (int k = 0; k < got; k++) PyBuffer_Release(&b[k]);
    return result;
}
