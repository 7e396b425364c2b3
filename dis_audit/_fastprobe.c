/* The header probe's common case in C: a well-formed, complete JPEG or PNG.
 *
 * dis_audit.probe.probe_file calls probe(path) first. It returns
 * (size, mtime_ns, format, mode, width, height) when the file is a regular, non-empty JPEG whose
 * frame header lies in its first HEAD_BYTES, or a PNG with a valid IHDR, and its end marker is in
 * its last TAIL_BYTES; that is exactly the FileInfo the Python code gives such a file (no error,
 * not truncated). For anything else (an error of any kind, another format, an unusual header, a
 * truncated file) it returns None and the Python code probes the file itself, so every message
 * and every unusual case is defined once, in Python. tests/test_fastprobe.py compares both.
 *
 * Why C: a header scan spends most of its per-file time in the Python around four system calls
 * (open, fstat, read, close); here they cost about what the calls themselves cost.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* Keep equal to probe.HEAD_BYTES and probe.TAIL_BYTES (the test checks the module constants). */
#define HEAD_BYTES 4096
#define TAIL_BYTES 64
#define MAX_DIMENSION 2147483647UL

#ifdef __APPLE__
#define MTIME_SEC(st) ((st).st_mtimespec.tv_sec)
#define MTIME_NSEC(st) ((st).st_mtimespec.tv_nsec)
#else
#define MTIME_SEC(st) ((st).st_mtim.tv_sec)
#define MTIME_NSEC(st) ((st).st_mtim.tv_nsec)
#endif

static PyObject *s_jpeg, *s_png, *s_L, *s_RGB, *s_CMYK, *s_1, *s_I16, *s_P, *s_LA, *s_RGBA;

static int is_jpeg_sof(unsigned char m) {
    return m == 0xC0 || m == 0xC1 || m == 0xC2 || m == 0xC3 || m == 0xC5 || m == 0xC6 || m == 0xC7 ||
           m == 0xC9 || m == 0xCA || m == 0xCB || m == 0xCD || m == 0xCE || m == 0xCF;
}

/* The JPEG's mode, width and height when its frame header lies within head; 0 otherwise. */
static int jpeg_header(const unsigned char *head, Py_ssize_t n, PyObject **mode, unsigned long *w,
                       unsigned long *h) {
    Py_ssize_t pos = 2;
    for (;;) {
        if (pos + 10 > n) return 0; /* beyond the head: the Python code reads on */
        unsigned char ff = head[pos], marker = head[pos + 1];
        unsigned int length = ((unsigned int)head[pos + 2] << 8) | head[pos + 3];
        if (ff != 0xFF) return 0;
        if (is_jpeg_sof(marker)) {
            unsigned long height = ((unsigned long)head[pos + 5] << 8) | head[pos + 6];
            unsigned long width = ((unsigned long)head[pos + 7] << 8) | head[pos + 8];
            unsigned char channels = head[pos + 9];
            if (width == 0 || height == 0) return 0;
            if (channels == 1) *mode = s_L;
            else if (channels == 3) *mode = s_RGB;
            else if (channels == 4) *mode = s_CMYK;
            else return 0;
            *w = width;
            *h = height;
            return 1;
        }
        if (marker == 0xFF) pos += 1;
        else if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) pos += 2;
        else if (marker == 0xD9 || marker == 0xDA) return 0;
        else if (length < 2) return 0;
        else pos += 2 + (Py_ssize_t)length;
    }
}

static unsigned long be32(const unsigned char *p) {
    return ((unsigned long)p[0] << 24) | ((unsigned long)p[1] << 16) | ((unsigned long)p[2] << 8) | p[3];
}

static int png_header(const unsigned char *head, Py_ssize_t n, PyObject **mode, unsigned long *w,
                      unsigned long *h) {
    if (n < 26 || memcmp(head + 12, "IHDR", 4) != 0) return 0;
    unsigned long width = be32(head + 16), height = be32(head + 20);
    unsigned char depth = head[24], color = head[25];
    if (width == 0 || height == 0 || width > MAX_DIMENSION || height > MAX_DIMENSION) return 0;
    switch (color) {
        case 0: *mode = depth == 1 ? s_1 : depth == 16 ? s_I16 : s_L; break;
        case 2: *mode = s_RGB; break;
        case 3: *mode = s_P; break;
        case 4: *mode = s_LA; break;
        case 6: *mode = s_RGBA; break;
        default: return 0;
    }
    *w = width;
    *h = height;
    return 1;
}

static int contains(const unsigned char *hay, Py_ssize_t n, const char *needle, Py_ssize_t k) {
    for (Py_ssize_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, (size_t)k) == 0) return 1;
    return 0;
}

/* The answer for the file at path (a C string): a new (size, mtime_ns, format, mode, width, height)
 * tuple, or a new reference to None where the Python code must decide; NULL with an exception set
 * only when memory runs out. */
static PyObject *probe_path(const char *path) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) Py_RETURN_NONE;
    unsigned char head[HEAD_BYTES], tailbuf[TAIL_BYTES];
    struct stat st;
    PyObject *fmt = NULL, *mode = NULL;
    unsigned long width = 0, height = 0;
    int ok = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        ssize_t n = read(fd, head, HEAD_BYTES);
        if (n >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF) {
            fmt = s_jpeg;
            ok = jpeg_header(head, n, &mode, &width, &height);
        } else if (n >= 8 && memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0) {
            fmt = s_png;
            ok = png_header(head, n, &mode, &width, &height);
        }
        if (ok) {
            /* The end marker, as probe._truncation looks for it. */
            const unsigned char *tail;
            Py_ssize_t tail_n;
            if ((long long)st.st_size <= (long long)n) {
                tail_n = n < TAIL_BYTES ? n : TAIL_BYTES;
                tail = head + (n - tail_n);
            } else {
                off_t at = st.st_size > TAIL_BYTES ? st.st_size - TAIL_BYTES : 0;
                ssize_t got = pread(fd, tailbuf, TAIL_BYTES, at);
                tail = tailbuf;
                tail_n = got;
                if (got < 0) ok = 0;
            }
            if (ok) ok = fmt == s_png ? contains(tail, tail_n, "IEND", 4) : contains(tail, tail_n, "\xff\xd9", 2);
        }
    }
    close(fd);
    /* Beyond int64 nanoseconds the Python code's arithmetic is the reference. */
    if (!ok || MTIME_SEC(st) > 9000000000LL || MTIME_SEC(st) < -9000000000LL) Py_RETURN_NONE;
    long long mtime_ns = (long long)MTIME_SEC(st) * 1000000000LL + (long long)MTIME_NSEC(st);
    return Py_BuildValue("(LLOOkk)", (long long)st.st_size, mtime_ns, fmt, mode, width, height);
}

static PyObject *probe(PyObject *self, PyObject *arg) {
    PyObject *encoded = NULL;
    if (!PyUnicode_FSConverter(arg, &encoded)) {
        PyErr_Clear(); /* e.g. an embedded NUL: the Python code says what it makes of it */
        Py_RETURN_NONE;
    }
    PyObject *found = NULL;
    if ((size_t)PyBytes_GET_SIZE(encoded) == strlen(PyBytes_AS_STRING(encoded))) found = probe_path(PyBytes_AS_STRING(encoded));
    else {
        found = Py_None;
        Py_INCREF(found);
    }
    Py_DECREF(encoded);
    return found;
}

/* probe_many(prefix, paths, info_type): for each path, info_type(*answer) where probe(prefix + path)
 * answers, else None (a path that is None gives None too). info_type is a tuple subclass
 * (probe.FileInfo) whose fields after the answer's six default to None. */
static PyObject *probe_many(PyObject *self, PyObject *args) {
    PyObject *prefix_obj, *paths, *info_type, *prefix_bytes = NULL, *out = NULL, *tail_nones = NULL;
    if (!PyArg_ParseTuple(args, "UOO", &prefix_obj, &paths, &info_type)) return NULL;
    if (!PyType_Check(info_type) || !PyType_IsSubtype((PyTypeObject *)info_type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "info_type must be a tuple subclass");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(paths, "paths must be a sequence");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (!PyUnicode_FSConverter(prefix_obj, &prefix_bytes)) goto fail;
    out = PyList_New(n);
    if (out == NULL) goto fail;
    tail_nones = PyTuple_Pack(2, Py_None, Py_None);
    if (tail_nones == NULL) goto fail;
    Py_ssize_t plen = PyBytes_GET_SIZE(prefix_bytes);
    char buf[8192];
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i), *found = NULL;
        if (item != Py_None) {
            if (!PyUnicode_Check(item)) {
                PyErr_SetString(PyExc_TypeError, "paths must be str or None");
                goto fail;
            }
            PyObject *raw = PyUnicode_EncodeFSDefault(item);
            if (raw == NULL) {
                PyErr_Clear(); /* not encodable: the Python code says what it makes of it */
            } else {
                Py_ssize_t k = PyBytes_GET_SIZE(raw);
                if (plen + k < (Py_ssize_t)sizeof(buf) && (size_t)k == strlen(PyBytes_AS_STRING(raw))) {
                    memcpy(buf, PyBytes_AS_STRING(prefix_bytes), (size_t)plen);
                    memcpy(buf + plen, PyBytes_AS_STRING(raw), (size_t)k + 1);
                    found = probe_path(buf);
                    if (found == NULL) {
                        Py_DECREF(raw);
                        goto fail;
                    }
                    if (found == Py_None) Py_CLEAR(found);
                }
                Py_DECREF(raw);
            }
        }
        if (found == NULL) {
            Py_INCREF(Py_None);
            PyList_SET_ITEM(out, i, Py_None);
            continue;
        }
        /* The six answered fields and the two that default to None, as info_type's own tuple. */
        PyObject *full = PySequence_Concat(found, tail_nones);
        Py_DECREF(found);
        if (full == NULL) goto fail;
        PyObject *ctor_args = PyTuple_Pack(1, full);
        Py_DECREF(full);
        if (ctor_args == NULL) goto fail;
        PyObject *info = PyTuple_Type.tp_new((PyTypeObject *)info_type, ctor_args, NULL);
        Py_DECREF(ctor_args);
        if (info == NULL) goto fail;
        PyList_SET_ITEM(out, i, info);
    }
    Py_DECREF(tail_nones);
    Py_DECREF(prefix_bytes);
    Py_DECREF(seq);
    return out;
fail:
    Py_XDECREF(tail_nones);
    Py_XDECREF(out);
    Py_XDECREF(prefix_bytes);
    Py_DECREF(seq);
    return NULL;
}

/* stat_many(prefix, paths): (size, mtime_ns) of prefix + path for each path, as native int64 pairs in
 * one bytes object; (-1, -1) for a path that is None, (-2, -2) where stat fails. The system calls run
 * with the GIL released, so threads calling it on parts of a list stat in parallel. */
static PyObject *stat_many(PyObject *self, PyObject *args) {
    PyObject *prefix_obj, *paths;
    if (!PyArg_ParseTuple(args, "UO", &prefix_obj, &paths)) return NULL;
    PyObject *seq = PySequence_Fast(paths, "paths must be a sequence");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *prefix_bytes = NULL, *out = NULL, *encoded = PyList_New(n);
    if (encoded == NULL || !PyUnicode_FSConverter(prefix_obj, &prefix_bytes)) goto done;
    out = PyBytes_FromStringAndSize(NULL, n * 2 * (Py_ssize_t)sizeof(long long));
    if (out == NULL) goto done;
    Py_ssize_t plen = PyBytes_GET_SIZE(prefix_bytes);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i), *b = NULL;
        if (item == Py_None) {
            b = Py_None;
            Py_INCREF(b);
        } else if (!PyUnicode_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "paths must be str or None");
            goto fail;
        } else {
            PyObject *raw = PyUnicode_EncodeFSDefault(item);
            if (raw == NULL) {
                PyErr_Clear(); /* not encodable: counts as a failed stat */
                b = PyBytes_FromStringAndSize("", 0);
            } else {
                Py_ssize_t k = PyBytes_GET_SIZE(raw);
                b = PyBytes_FromStringAndSize(NULL, plen + k);
                if (b != NULL) {
                    memcpy(PyBytes_AS_STRING(b), PyBytes_AS_STRING(prefix_bytes), (size_t)plen);
                    memcpy(PyBytes_AS_STRING(b) + plen, PyBytes_AS_STRING(raw), (size_t)k);
                }
                Py_DECREF(raw);
            }
            if (b == NULL) goto fail;
        }
        PyList_SET_ITEM(encoded, i, b);
    }
    {
        long long *values = (long long *)PyBytes_AS_STRING(out);
        int too_far = 0;
        /* Consecutive paths mostly share their folder: stat each name relative to an open descriptor
         * of that folder (fstatat), so the kernel walks one component instead of the whole path. */
        int dirfd = -1;
        const char *dir_of = NULL; /* the path whose folder dirfd is */
        size_t dir_len = 0;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *b = PyList_GET_ITEM(encoded, i);
            struct stat st;
            if (b == Py_None) {
                values[2 * i] = values[2 * i + 1] = -1;
                continue;
            }
            const char *path = PyBytes_AS_STRING(b);
            size_t len = (size_t)PyBytes_GET_SIZE(b);
            int failed = len == 0 || strlen(path) != len; /* unencodable, or an embedded NUL */
            if (!failed) {
                const char *slash = strrchr(path, '/');
                size_t this_dir = slash ? (size_t)(slash - path) : 0;
                if (slash && this_dir > 0 && slash[1] != '\0') {
                    if (dir_of == NULL || dir_len != this_dir || memcmp(dir_of, path, this_dir) != 0) {
                        char folder[4096];
                        if (dirfd >= 0) close(dirfd);
                        dirfd = -1;
                        dir_of = NULL;
                        if (this_dir < sizeof(folder)) {
                            memcpy(folder, path, this_dir);
                            folder[this_dir] = '\0';
                            dirfd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                            if (dirfd >= 0) {
                                dir_of = path;
                                dir_len = this_dir;
                            }
                        }
                    }
                    failed = dirfd >= 0 ? fstatat(dirfd, slash + 1, &st, 0) != 0 : stat(path, &st) != 0;
                } else {
                    failed = stat(path, &st) != 0;
                }
            }
            if (failed) {
                values[2 * i] = values[2 * i + 1] = -2;
                continue;
            }
            if (MTIME_SEC(st) > 9000000000LL || MTIME_SEC(st) < -9000000000LL) too_far = 1;
            values[2 * i] = (long long)st.st_size;
            values[2 * i + 1] = (long long)MTIME_SEC(st) * 1000000000LL + (long long)MTIME_NSEC(st);
        }
        if (dirfd >= 0) close(dirfd);
        Py_END_ALLOW_THREADS
        if (too_far) { /* beyond int64 nanoseconds: the Python code decides */
            Py_DECREF(out);
            out = Py_None;
            Py_INCREF(out);
        }
    }
    goto done;
fail:
    Py_CLEAR(out);
done:
    Py_XDECREF(encoded);
    Py_XDECREF(prefix_bytes);
    Py_DECREF(seq);
    return out;
}

static PyMethodDef methods[] = {
    {"probe", probe, METH_O,
     "probe(path) -> (size, mtime_ns, format, mode, width, height) for a complete, well-formed JPEG or PNG; "
     "None for anything else (dis_audit.probe.probe_file then reads the file itself)."},
    {"probe_many", probe_many, METH_VARARGS,
     "probe_many(prefix, paths, info_type) -> list of info_type(*probe(prefix + path)) where probe answers, "
     "else None (also for a path that is None)."},
    {"stat_many", stat_many, METH_VARARGS,
     "stat_many(prefix, paths) -> bytes of native int64 (size, mtime_ns) pairs; (-1, -1) for None, (-2, -2) "
     "where stat fails; None when a time is beyond int64 nanoseconds. Releases the GIL while it stats."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastprobe", NULL, -1, methods};

PyMODINIT_FUNC PyInit__fastprobe(void) {
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    PyObject **slots[] = {&s_jpeg, &s_png, &s_L, &s_RGB, &s_CMYK, &s_1, &s_I16, &s_P, &s_LA, &s_RGBA};
    const char *names[] = {"JPEG", "PNG", "L", "RGB", "CMYK", "1", "I;16", "P", "LA", "RGBA"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        *slots[i] = PyUnicode_InternFromString(names[i]);
        if (*slots[i] == NULL) {
            Py_DECREF(m);
            return NULL;
        }
    }
    if (PyModule_AddIntConstant(m, "HEAD_BYTES", HEAD_BYTES) < 0 ||
        PyModule_AddIntConstant(m, "TAIL_BYTES", TAIL_BYTES) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
