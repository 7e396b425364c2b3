/* The mask–image agreement's kernels of dis_audit._fastpixels (see _fastpixels.c): the edge map and its sums over
 * an outline at every placement, even samples of a value range, and a mask's counts. */
#include "_fastpixels.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* edge_map(pic, width, out): the mask–image agreement's edge map (maskfit._edges with no padding) of `pic`
 * (uint8, rows of `width`) into `out` (int16, the same shape): at every pixel off the picture's border, the
 * gradient magnitude |below - above| + |right - left| summed over the 3x3 box around it (those of the border
 * count 0); 0 on the border. */
PyObject *fp_edge_map(PyObject *self, PyObject *args) {
    PyObject *pic_obj, *out_obj;
    Py_ssize_t w;
    if (!PyArg_ParseTuple(args, "OnO", &pic_obj, &w, &out_obj)) return NULL;
    Py_buffer pic, out;
    if (get_buffers(2, pic_obj, &pic, 0, out_obj, &out, 1) < 0) return NULL;
    PyObject *result = NULL;
    if (w < 1 || pic.itemsize != 1 || pic.len % w != 0 || out.itemsize != 2 || out.len != 2 * pic.len) {
        PyErr_SetString(PyExc_ValueError, "edge_map: pic must be uint8 rows of `width`, out int16 of its shape");
        goto done;
    }
    Py_ssize_t h = pic.len / w;
    int16_t *mag = PyMem_RawCalloc((size_t)(h * w), sizeof(int16_t));
    if (!mag) {
        PyErr_NoMemory();
        goto done;
    }
    const uint8_t *g = pic.buf;
    int16_t *e = out.buf;
    Py_BEGIN_ALLOW_THREADS
    memset(e, 0, (size_t)out.len);
    for (Py_ssize_t y = 1; y + 1 < h; y++)
        for (Py_ssize_t x = 1; x + 1 < w; x++) {
            int dy = g[(y + 1) * w + x] - g[(y - 1) * w + x], dx = g[y * w + x + 1] - g[y * w + x - 1];
            mag[y * w + x] = (int16_t)((dy < 0 ? -dy : dy) + (dx < 0 ? -dx : dx));
        }
    for (Py_ssize_t y = 1; y + 1 < h; y++)
        for (Py_ssize_t x = 1; x + 1 < w; x++) {
            int sum = 0;
            for (int i = -1; i <= 1; i++) {
                const int16_t *m = mag + (y + i) * w + x;
                sum += m[-1] + m[0] + m[1];
            }
            e[y * w + x] = (int16_t)sum;
        }
    Py_END_ALLOW_THREADS
    PyMem_RawFree(mag);
    result = Py_None;
    Py_INCREF(result);
done:
    release_buffers(2, &pic, &out);
    return result;
}

/* placement_sums' loop over the points, with ACC the accumulators' type (int32 where the sums cannot overflow it:
 * the common case, whose additions the compiler vectorises) and a shift step `sx` the caller may fix at 2 (maskfit's
 * FIT_STEP) so that the compiler knows it. */
#define PLACEMENT_LOOP(ACC, acc_, SX)                                                                                  \
    for (Py_ssize_t p = 0; p < n; p++) {                                                                               \
        int inside = r[p] + y_lo >= 0 && r[p] + y_hi < h && c[p] + x_lo >= 0 && c[p] + x_hi < w;                     \
        for (Py_ssize_t i = 0; i < ny; i++) {                                                                          \
            Py_ssize_t y = r[p] + dy0 + i * sy;                                                                        \
            ACC *a = (acc_) + i * nx;                                                                                  \
            if (inside) {                                                                                              \
                const int16_t *line = e + y * w + c[p] + dx0;                                                          \
                for (Py_ssize_t j = 0; j < nx; j++) a[j] += line[j * (SX)];                                            \
            } else if (y >= 0 && y < h) {                                                                              \
                for (Py_ssize_t j = 0; j < nx; j++) {                                                                  \
                    Py_ssize_t x = c[p] + dx0 + j * (SX);                                                              \
                    if (x >= 0 && x < w) a[j] += e[y * w + x];                                                         \
                }                                                                                                      \
            }                                                                                                          \
        }                                                                                                              \
    }

/* placement_sums(edges, width, rows, cols, dy0, ny, step_y, dx0, nx, step_x, out): for every placement
 * (dy0 + i * step_y, dx0 + j * step_x), the sum of `edges` (int16, rows of `width`) at the points (rows[p] + dy,
 * cols[p] + dx) (int64 arrays); a point off the picture counts 0. Written to out (float64, ny * nx, row-major
 * over (i, j)): maskfit's gather of the zero-padded edge map, summed over the points. */
PyObject *fp_placement_sums(PyObject *self, PyObject *args) {
    PyObject *edges_obj, *rows_obj, *cols_obj, *out_obj;
    Py_ssize_t w, dy0, ny, sy, dx0, nx, sx;
    if (!PyArg_ParseTuple(args, "OnOOnnnnnnO", &edges_obj, &w, &rows_obj, &cols_obj, &dy0, &ny, &sy, &dx0, &nx, &sx,
                          &out_obj))
        return NULL;
    Py_buffer edges, rows, cols, out;
    if (get_buffers(4, edges_obj, &edges, 0, rows_obj, &rows, 0, cols_obj, &cols, 0, out_obj, &out, 1) < 0)
        return NULL;
    PyObject *result = NULL;
    if (w < 1 || edges.itemsize != 2 || edges.len % (2 * w) != 0 || rows.itemsize != 8 || cols.itemsize != 8 ||
        rows.len != cols.len || ny < 1 || nx < 1 || out.itemsize != 8 || out.len != 8 * ny * nx) {
        PyErr_SetString(PyExc_ValueError, "placement_sums: edges int16 rows of `width`, rows and cols int64 of one "
                                          "length, out float64[ny * nx]");
        goto done;
    }
    Py_ssize_t h = edges.len / (2 * w), n = rows.len / 8;
    const int16_t *e = edges.buf;
    const int64_t *r = rows.buf, *c = cols.buf;
    double *o = out.buf;
    /* 32-bit sums hold n points of at most 32767 each up to 65535 points (maskfit compares 160) */
    int narrow = n <= 65535;
    void *acc = PyMem_RawCalloc((size_t)(ny * nx), narrow ? sizeof(int32_t) : sizeof(int64_t));
    if (!acc) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    /* Point by point: its placements form a window of the map, read row by row; a point whose window lies inside
     * the picture needs no test (the common case), the others test each position. */
    {
        Py_ssize_t y_lo = dy0, y_hi = dy0 + (ny - 1) * sy, x_lo = dx0, x_hi = dx0 + (nx - 1) * sx;
        if (y_lo > y_hi) { Py_ssize_t t = y_lo; y_lo = y_hi; y_hi = t; }
        if (x_lo > x_hi) { Py_ssize_t t = x_lo; x_lo = x_hi; x_hi = t; }
        int32_t *acc32 = acc;
        int64_t *acc64 = acc;
        if (narrow && sx == 2)
            PLACEMENT_LOOP(int32_t, acc32, 2)
        else if (narrow)
            PLACEMENT_LOOP(int32_t, acc32, sx)
        else
            PLACEMENT_LOOP(int64_t, acc64, sx)
        for (Py_ssize_t i = 0; i < ny * nx; i++) o[i] = narrow ? (double)acc32[i] : (double)acc64[i];
    }
    Py_END_ALLOW_THREADS
    PyMem_RawFree(acc);
    result = Py_None;
    Py_INCREF(result);
done:
    release_buffers(4, &edges, &rows, &cols, &out);
    return result;
}

/* A mask's counts over n bytes (scalar; the vector loop below leaves its tail here). */
static void mask_tail(const uint8_t *row, const uint8_t *above, Py_ssize_t x0, Py_ssize_t w, long long *c,
                      uint8_t *top) {
    for (Py_ssize_t x = x0; x < w; x++) {
        uint8_t v = row[x];
        c[0] += v == 0;
        c[1] += v == 255;
        c[2] += v >> 7;
        if (v > *top) *top = v;
        if (x) c[3] += (row[x - 1] ^ v) >> 7;
        if (above) c[3] += (above[x] ^ v) >> 7;
    }
}

/* mask_counts(mask, width) -> (zeros, 255s, foreground (>= 128), largest value, outline edges): the counts of
 * deep.mask_stats over a mask (uint8, rows of `width`) in one pass; outline edges are 4-neighbour pairs whose
 * foreground state differs. */
PyObject *fp_mask_counts(PyObject *self, PyObject *args) {
    PyObject *mask_obj;
    Py_ssize_t w;
    if (!PyArg_ParseTuple(args, "On", &mask_obj, &w)) return NULL;
    Py_buffer mask;
    if (get_buffer(mask_obj, &mask, 0) < 0) return NULL;
    if (w < 1 || mask.len % w != 0 || mask.itemsize != 1) {
        PyBuffer_Release(&mask);
        PyErr_SetString(PyExc_ValueError, "mask_counts: mask must be uint8 rows of `width`");
        return NULL;
    }
    const uint8_t *px = mask.buf;
    Py_ssize_t h = mask.len / w;
    long long c[4] = {0, 0, 0, 0}; /* zeros, 255s, foreground, edges */
    uint8_t top = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t y = 0; y < h; y++) {
        const uint8_t *row = px + y * w, *above = y ? row - w : NULL;
        Py_ssize_t x = 0;
#if defined(__SSE2__)
        /* 16 pixels a step; 8-bit counters summed every 127 steps (a step adds at most 2: the edges to the left
         * and above). x starts at 1 so that the left neighbour row[x - 1] is always there; pixel 0 goes to the
         * scalar loop. */
        const __m128i zero = _mm_setzero_si128(), ones = _mm_set1_epi8((char)0xFF);
        __m128i tmax = zero;
        x = 1;
        mask_tail(row, above, 0, 1, c, &top);
        while (x + 16 <= w) {
            __m128i cz = zero, cf = zero, cg = zero, ce = zero;
            for (int steps = 0; steps < 127 && x + 16 <= w; steps++, x += 16) {
                __m128i v = _mm_loadu_si128((const __m128i *)(row + x));
                __m128i left = _mm_loadu_si128((const __m128i *)(row + x - 1));
                cz = _mm_sub_epi8(cz, _mm_cmpeq_epi8(v, zero));
                cf = _mm_sub_epi8(cf, _mm_cmpeq_epi8(v, ones));
                cg = _mm_sub_epi8(cg, _mm_cmplt_epi8(v, zero)); /* >= 128: negative as a signed byte */
                tmax = _mm_max_epu8(tmax, v);
                ce = _mm_sub_epi8(ce, _mm_cmplt_epi8(_mm_xor_si128(v, left), zero));
                if (above) {
                    __m128i up = _mm_loadu_si128((const __m128i *)(above + x));
                    ce = _mm_sub_epi8(ce, _mm_cmplt_epi8(_mm_xor_si128(v, up), zero));
                }
            }
            __m128i sz = _mm_sad_epu8(cz, zero), sf = _mm_sad_epu8(cf, zero), sg = _mm_sad_epu8(cg, zero);
            __m128i se = _mm_sad_epu8(ce, zero);
            c[0] += _mm_cvtsi128_si32(sz) + _mm_extract_epi16(sz, 4);
            c[1] += _mm_cvtsi128_si32(sf) + _mm_extract_epi16(sf, 4);
            c[2] += _mm_cvtsi128_si32(sg) + _mm_extract_epi16(sg, 4);
            c[3] += _mm_cvtsi128_si32(se) + _mm_extract_epi16(se, 4);
        }
        uint8_t lanes[16];
        _mm_storeu_si128((__m128i *)lanes, tmax);
        for (int i = 0; i < 16; i++)
            if (lanes[i] > top) top = lanes[i];
#endif
        mask_tail(row, above, x, w, c, &top);
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&mask);
    return Py_BuildValue("LLLiL", c[0], c[1], c[2], (int)top, c[3]);
}

/* even_points(values, width, lo, span, n, rows, cols) -> count: the pixels of `values` (uint8, rows of `width`)
 * whose value v has (uint8)(v - lo) < span, in row-major order: how many there are, and an even sample of at most
 * n of them (maskfit._even_flat's rule: the k-th of n is number (int64)(k * ((count - 1) / (n - 1))), the last
 * one exactly count - 1), whose rows and columns are written to `rows` and `cols` (int64[n]; the first
 * min(count, n) entries). */
PyObject *fp_even_points(PyObject *self, PyObject *args) {
    PyObject *v_obj, *rows_obj, *cols_obj;
    Py_ssize_t w, n;
    int lo, span;
    if (!PyArg_ParseTuple(args, "OniinOO", &v_obj, &w, &lo, &span, &n, &rows_obj, &cols_obj)) return NULL;
    Py_buffer v, rows, cols;
    if (get_buffers(3, v_obj, &v, 0, rows_obj, &rows, 1, cols_obj, &cols, 1) < 0) return NULL;
    PyObject *result = NULL;
    if (w < 1 || v.itemsize != 1 || v.len % w != 0 || n < 2 || rows.itemsize != 8 || cols.itemsize != 8 ||
        rows.len != 8 * n || cols.len != 8 * n) {
        PyErr_SetString(PyExc_ValueError, "even_points: values uint8 rows of `width`, n >= 2, rows and cols int64[n]");
        goto done;
    }
    const uint8_t *p = v.buf;
    int64_t *r = rows.buf, *c = cols.buf;
    Py_ssize_t count = 0;
    const uint8_t l8 = (uint8_t)lo, s8 = (uint8_t)span;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < v.len; i++) count += (uint8_t)(p[i] - l8) < s8;
    if (count <= n) {
        Py_ssize_t k = 0;
        for (Py_ssize_t i = 0; i < v.len && k < count; i++)
            if ((uint8_t)(p[i] - l8) < s8) {
                r[k] = i / w;
                c[k] = i % w;
                k++;
            }
    } else {
        double step = (double)(count - 1) / (double)(n - 1);
        Py_ssize_t k = 0, seen = 0, want = 0;
        for (Py_ssize_t i = 0; i < v.len && k < n; i++)
            if ((uint8_t)(p[i] - l8) < s8) {
                if (seen == want) {
                    r[k] = i / w;
                    c[k] = i % w;
                    k++;
                    want = k == n - 1 ? count - 1 : (Py_ssize_t)((double)k * step);
                    /* equal samples (a step under 1 cannot happen here: count > n) */
                }
                seen++;
            }
    }
    Py_END_ALLOW_THREADS
    result = PyLong_FromSsize_t(count);
done:
    release_buffers(3, &v, &rows, &cols);
    return result;
}
