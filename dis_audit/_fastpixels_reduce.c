/* Pillow's box reduction in C (dis_audit._fastpixels; see _fastpixels.c): Image.reduce(factor) over the whole
 * factor x factor boxes of an "L" picture (the mask's path to the agreement's working picture) and of an "RGB" one
 * (the picture's, converted to grey in the same pass where the grey picture is all that is wanted).
 *
 * Pillow maps each box's sum through one rounding that depends on the sum alone (the same for every channel); the
 * caller passes it as a table asked of Pillow itself (pixels._reduce_table), so the results are Pillow's whatever
 * its version. The boxes of a ragged last column or row (a side not divisible by the factor) are left to the
 * caller, who asks Pillow for them.
 *
 * Speed: the loops are written once, for a factor given at run time, and compiled again for each factor the scan
 * uses (FOR_FACTORS): with the factor a constant the compiler unrolls the box loops, which halves their cost. */
#include "_fastpixels.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if defined(__GNUC__)
#define ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE static inline
#endif

/* `CALL(f)` with f a constant for the common factors (768 px: 4; 1024: 5; 2048: 2, 5; 3000: 3, 5), with the run-time
 * `factor` otherwise. */
#define FOR_FACTORS(factor, CALL)                                                                                      \
    switch (factor) {                                                                                                  \
    case 2: CALL(2); break;                                                                                            \
    case 3: CALL(3); break;                                                                                            \
    case 4: CALL(4); break;                                                                                            \
    case 5: CALL(5); break;                                                                                            \
    case 6: CALL(6); break;                                                                                            \
    case 8: CALL(8); break;                                                                                            \
    default: CALL(factor); break;                                                                                      \
    }

/* col[x] = the sum of byte x of `f` rows (`stride` bytes apart) from `row`, for x < n: a plain loop the compiler
 * vectorises. At most 255 x 16: a uint16 holds it. */
ALWAYS_INLINE void sum_rows(const uint8_t *row, Py_ssize_t stride, Py_ssize_t f, Py_ssize_t n, uint16_t *col) {
    for (Py_ssize_t x = 0; x < n; x++) col[x] = row[x];
    for (Py_ssize_t i = 1; i < f; i++) {
        row += stride;
        for (Py_ssize_t x = 0; x < n; x++) col[x] = (uint16_t)(col[x] + row[x]);
    }
}

/* The whole boxes of an "L" picture (h x w) into o ((h / f) x (w / f)); col: room for w sums. */
ALWAYS_INLINE void reduce_l_boxes(const uint8_t *p, Py_ssize_t w, Py_ssize_t h, Py_ssize_t f, const uint8_t *lut,
                                  uint8_t *o, uint16_t *col) {
    Py_ssize_t fw = w / f, fh = h / f;
    for (Py_ssize_t by = 0; by < fh; by++) {
        sum_rows(p + by * f * w, w, f, fw * f, col);
        uint8_t *line = o + by * fw;
        for (Py_ssize_t bx = 0; bx < fw; bx++) {
            const uint16_t *q = col + bx * f;
            uint32_t sum = 0;
            for (Py_ssize_t i = 0; i < f; i++) sum += q[i];
            line[bx] = lut[sum];
        }
    }
}

/* The R, G and B sums of the f x f box of Pillow's RGB pixels (4 bytes each) at `box`, rows `stride` bytes apart. */
ALWAYS_INLINE void rgb_box_sums(const uint8_t *box, Py_ssize_t stride, Py_ssize_t f, uint32_t *s) {
#if defined(__SSE2__)
    /* Each pixel's bytes widened to 16-bit lanes and added lane by lane, four pixels a load where they fit, then
     * two, then one; the two halves of the register (pixels at even and odd places) added at the end. A box's
     * sum is at most 255 x 16²: a lane holds it. */
    const __m128i zero = _mm_setzero_si128();
    __m128i acc = zero;
    for (Py_ssize_t i = 0; i < f; i++) {
        const uint8_t *row = box + i * stride;
        Py_ssize_t j = 0;
        for (; j + 4 <= f; j += 4) {
            __m128i v = _mm_loadu_si128((const __m128i *)(row + 4 * j));
            acc = _mm_add_epi16(acc, _mm_add_epi16(_mm_unpacklo_epi8(v, zero), _mm_unpackhi_epi8(v, zero)));
        }
        for (; j + 2 <= f; j += 2)
            acc = _mm_add_epi16(acc, _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(row + 4 * j)), zero));
        if (j < f) {
            int32_t one;
            memcpy(&one, row + 4 * j, sizeof one);
            acc = _mm_add_epi16(acc, _mm_unpacklo_epi8(_mm_cvtsi32_si128(one), zero));
        }
    }
    acc = _mm_add_epi16(acc, _mm_srli_si128(acc, 8));
    s[0] = (uint32_t)_mm_extract_epi16(acc, 0);
    s[1] = (uint32_t)_mm_extract_epi16(acc, 1);
    s[2] = (uint32_t)_mm_extract_epi16(acc, 2);
#else
    uint32_t r = 0, g = 0, b = 0;
    for (Py_ssize_t i = 0; i < f; i++) {
        const uint8_t *px = box + i * stride;
        for (Py_ssize_t j = 0; j < f; j++, px += 4) {
            r += px[0];
            g += px[1];
            b += px[2];
        }
    }
    s[0] = r;
    s[1] = g;
    s[2] = b;
#endif
}

/* The lines a picture's sampling asks for, and where they go (see box_reduce_rgb). */
typedef struct {
    const int64_t *ys, *xs; /* the rows (ascending) and the columns sampled */
    Py_ssize_t nys, nxs, next; /* next: the first of ys not yet passed */
    uint8_t *rows, *cols;
} Lines;

/* Pillow's grey level of an RGB pixel (convert("L")). */
ALWAYS_INLINE uint8_t grey_of(const uint8_t *q) {
    return (uint8_t)((q[0] * 19595u + q[1] * 38470u + q[2] * 7471u + 0x8000u) >> 16);
}

/* Row y (`w` pixels at `row`) into the sampled lines: all of it where y is a sampled row, and its pixel of each
 * sampled column. */
ALWAYS_INLINE void sample_row(const uint8_t *row, Py_ssize_t y, Py_ssize_t w, Py_ssize_t h, Lines *lines) {
    while (lines->next < lines->nys && lines->ys[lines->next] == y) {
        uint8_t *out = lines->rows + lines->next * w;
        for (Py_ssize_t x = 0; x < w; x++) out[x] = grey_of(row + 4 * x);
        lines->next++;
    }
    for (Py_ssize_t j = 0; j < lines->nxs; j++) lines->cols[j * h + y] = grey_of(row + 4 * lines->xs[j]);
}

/* The whole boxes of Pillow's RGB picture (h x w, 4 bytes a pixel) into o: grey levels ((h / f) x (w / f)) or, not
 * `grey`, R, G, B triples; and, where `lines` is given, the sampled lines of every row, each band's rows while they
 * are still in the cache. */
ALWAYS_INLINE void reduce_rgb_boxes(const uint8_t *p, Py_ssize_t w, Py_ssize_t h, Py_ssize_t f, const uint8_t *lut,
                                    int grey, uint8_t *o, Lines *lines) {
    Py_ssize_t fw = w / f, fh = h / f;
    for (Py_ssize_t by = 0; by < fh; by++) {
        const uint8_t *band = p + by * f * 4 * w;
        uint8_t *line = o + by * fw * (grey ? 1 : 3);
        for (Py_ssize_t bx = 0; bx < fw; bx++) {
            uint32_t s[3];
            rgb_box_sums(band + bx * f * 4, 4 * w, f, s);
            uint32_t r = lut[s[0]], g = lut[s[1]], b = lut[s[2]];
            if (grey) {
                line[bx] = (uint8_t)((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
            } else {
                line[3 * bx] = (uint8_t)r;
                line[3 * bx + 1] = (uint8_t)g;
                line[3 * bx + 2] = (uint8_t)b;
            }
        }
        if (lines)
            for (Py_ssize_t y = by * f; y < by * f + f; y++) sample_row(p + y * 4 * w, y, w, h, lines);
    }
    if (lines) /* the rows of a ragged last band */
        for (Py_ssize_t y = fh * f; y < h; y++) sample_row(p + y * 4 * w, y, w, h, lines);
}

/* box_reduce(pixels, width, factor, table, out): Pillow's reduce(factor) of an "L" picture (uint8, rows of `width`)
 * over its whole factor x factor boxes, into out (uint8, (height // factor) x (width // factor)): each box's sum
 * mapped through `table` (uint8, 255 x factor² + 1 entries: what Pillow makes of a box of that sum). */
PyObject *fp_box_reduce(PyObject *self, PyObject *args) {
    PyObject *pix_obj, *table_obj, *out_obj;
    Py_ssize_t w, f;
    if (!PyArg_ParseTuple(args, "OnnOO", &pix_obj, &w, &f, &table_obj, &out_obj)) return NULL;
    Py_buffer pix, table, out;
    if (get_buffers(3, pix_obj, &pix, 0, table_obj, &table, 0, out_obj, &out, 1) < 0) return NULL;
    PyObject *result = NULL;
    Py_ssize_t h = w > 0 ? pix.len / w : 0, fw = f > 0 ? w / f : 0, fh = f > 0 ? h / f : 0;
    if (w < 1 || f < 1 || f > 16 || pix.itemsize != 1 || pix.len % w != 0 || table.itemsize != 1 ||
        table.len != 255 * f * f + 1 || out.itemsize != 1 || out.len != fw * fh) {
        PyErr_SetString(PyExc_ValueError, "box_reduce: pixels uint8 rows of `width`, 1 <= factor <= 16, table "
                                          "uint8[255 factor^2 + 1], out uint8[height // factor, width // factor]");
        goto done;
    }
    uint16_t *col = PyMem_RawMalloc(sizeof(uint16_t) * (size_t)(fw * f > 0 ? fw * f : 1)); /* a band summed down */
    if (!col) {
        PyErr_NoMemory();
        goto done;
    }
    const uint8_t *p = pix.buf, *lut = table.buf;
    uint8_t *o = out.buf;
    Py_BEGIN_ALLOW_THREADS
#define REDUCE_L(F) reduce_l_boxes(p, w, h, F, lut, o, col)
    FOR_FACTORS(f, REDUCE_L)
#undef REDUCE_L
    Py_END_ALLOW_THREADS
    PyMem_RawFree(col);
    result = Py_None;
    Py_INCREF(result);
done:
    release_buffers(3, &pix, &table, &out);
    return result;
}

/* box_reduce_rgb(pixels, width, factor, table, grey, out[, ys, xs, rows, cols]): Pillow's reduce(factor) of an "RGB"
 * picture held as Pillow holds it (uint8, rows of `width` pixels of 4 bytes: R, G, B and one unused), over its whole
 * boxes: each channel's box sum mapped through `table` (as box_reduce). Into out (uint8): `grey` 0, the R, G, B of
 * each box ((height // factor) x (width // factor) x 3, as numpy reads the reduced picture); `grey` 1, the grey level
 * Pillow's convert("L") gives of them ((height // factor) x (width // factor)):
 * (19595 R + 38470 G + 7471 B + 0x8000) >> 16, the rounded R, G, B, as Pillow converts the reduced picture.
 * With ys and xs (int64 rows, ascending, and columns of the picture), in the same pass: the grey levels of the rows
 * ys into rows (uint8, len(ys) x width) and of the columns xs into cols (uint8, len(xs) x height, a column a row):
 * gather's kind 0 of the whole picture's rows ys and of its columns xs (the blur measure's lines). */
PyObject *fp_box_reduce_rgb(PyObject *self, PyObject *args) {
    PyObject *pix_obj, *table_obj, *out_obj, *ys_obj = NULL, *xs_obj = NULL, *rows_obj = NULL, *cols_obj = NULL;
    Py_ssize_t w, f;
    int grey;
    if (!PyArg_ParseTuple(args, "OnnOiO|OOOO", &pix_obj, &w, &f, &table_obj, &grey, &out_obj, &ys_obj, &xs_obj,
                          &rows_obj, &cols_obj))
        return NULL;
    int with_lines = ys_obj != NULL;
    if (with_lines && cols_obj == NULL) {
        PyErr_SetString(PyExc_TypeError, "box_reduce_rgb: ys, xs, rows and cols go together");
        return NULL;
    }
    PyObject *objs[7] = {pix_obj, table_obj, out_obj, ys_obj, xs_obj, rows_obj, cols_obj};
    Py_buffer b[7];
    int got = 0;
    PyObject *result = NULL;
    for (; got < (with_lines ? 7 : 3); got++)
        if (get_buffer(objs[got], &b[got], got == 2 || got >= 5) < 0) goto done;
    Py_buffer *pix = &b[0], *table = &b[1], *out = &b[2];
    Py_ssize_t h = w > 0 ? pix->len / (4 * w) : 0, fw = f > 0 ? w / f : 0, fh = f > 0 ? h / f : 0;
    if (w < 1 || f < 1 || f > 16 || (grey != 0 && grey != 1) || pix->itemsize != 1 || pix->len % (4 * w) != 0 ||
        table->itemsize != 1 || table->len != 255 * f * f + 1 || out->itemsize != 1 ||
        out->len != fw * fh * (grey ? 1 : 3)) {
        PyErr_SetString(PyExc_ValueError, "box_reduce_rgb: pixels uint8 rows of 4 x `width`, 1 <= factor <= 16, "
                                          "table uint8[255 factor^2 + 1], grey 0 or 1, out uint8[height // factor, "
                                          "width // factor] (grey) or [..., 3]");
        goto done;
    }
    Lines lines = {0}, *sampled = NULL;
    if (with_lines) {
        Py_buffer *ys = &b[3], *xs = &b[4], *rows = &b[5], *cols = &b[6];
        lines.ys = ys->buf;
        lines.xs = xs->buf;
        lines.nys = ys->len / 8;
        lines.nxs = xs->len / 8;
        lines.rows = rows->buf;
        lines.cols = cols->buf;
        int ok = ys->itemsize == 8 && xs->itemsize == 8 && rows->itemsize == 1 && cols->itemsize == 1 &&
                 rows->len == lines.nys * w && cols->len == lines.nxs * h;
        for (Py_ssize_t i = 0; ok && i < lines.nys; i++)
            ok = lines.ys[i] >= 0 && lines.ys[i] < h && (i == 0 || lines.ys[i] >= lines.ys[i - 1]);
        for (Py_ssize_t j = 0; ok && j < lines.nxs; j++) ok = lines.xs[j] >= 0 && lines.xs[j] < w;
        if (!ok) {
            PyErr_SetString(PyExc_ValueError, "box_reduce_rgb: ys (ascending) and xs int64 positions inside the "
                                              "picture, rows uint8[len(ys), width], cols uint8[len(xs), height]");
            goto done;
        }
        sampled = &lines;
    }
    const uint8_t *p = pix->buf, *lut = table->buf;
    uint8_t *o = out->buf;
    Py_BEGIN_ALLOW_THREADS
#define REDUCE_RGB(F) reduce_rgb_boxes(p, w, h, F, lut, grey, o, sampled)
    FOR_FACTORS(f, REDUCE_RGB)
#undef REDUCE_RGB
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    for (int k = 0; k < got; k++) PyBuffer_Release(&b[k]);
    return result;
}
