/* post_office._speedups: the DATA encoder's inner loop in C (optional).
 *
 * The same transformation as post_office.wire.DotStuffer's pure-Python path, in one
 * pass: LF, CRLF and bare CR each become CRLF, and a "." that starts a line gets one more
 * "." (RFC 5321 4.5.2).  The pure-Python path needs several whole-buffer passes
 * (bytes.replace, a dot search, a join) because CPython has no single primitive for it;
 * here the content is scanned sixteen bytes at a time (SSE2; memchr elsewhere) and
 * copied as it is scanned, which is what lets send_smtp stream close to the speed of
 * the socket.  The Python path stays the reference: the tests
 * check that both give the same bytes for any input and any split.
 *
 * It is built when a C compiler is at hand and skipped otherwise (setup.py marks the
 * extension optional); wire.py falls back to Python when the import fails.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* Bits of the state carried between chunks; wire.py packs and unpacks the same bits. */
#define AT_LINE_START 1 /* the output stands at the start of a line */
#define SKIP_LF 2       /* the last chunk ended in a CR, already sent as CRLF */

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define HAVE_SSE2 1
#else
#define HAVE_SSE2 0
#endif

/* Copy from p to o up to the first CR or LF (or end); return where the copy stopped and
 * advance *out past what was written.  The caller guarantees 16 bytes of slack in the
 * output, so the SSE2 loop may store a whole block of which only part is kept. */
static const char *
copy_run_portable(const char *p, const char *end, char **out)
{
    const char *lf = memchr(p, '\n', (size_t)(end - p));
    const char *limit = lf != NULL ? lf : end;
    const char *cr = memchr(p, '\r', (size_t)(limit - p));
    const char *stop = cr != NULL ? cr : limit;
    memcpy(*out, p, (size_t)(stop - p));
    *out += stop - p;
    return stop;
}

#if HAVE_SSE2
static const char *
copy_run_sse2(const char *p, const char *end, char **out)
{
    /* Sixteen bytes at a time: compare with CR and LF, store the block, and stop at the
     * first match.  Mail lines are short, so this beats a memchr call per line. */
    const __m128i lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
    char *o = *out;
    while (end - p >= 16) {
        __m128i block = _mm_loadu_si128((const __m128i *)p);
        int mask = _mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(block, lf), _mm_cmpeq_epi8(block, cr)));
        _mm_storeu_si128((__m128i *)o, block);
        if (mask != 0) {
            int n = __builtin_ctz((unsigned int)mask);
            *out = o + n;
            return p + n;
        }
        p += 16;
        o += 16;
    }
    *out = o;
    while (p < end && *p != '\n' && *p != '\r')
        *(*out)++ = *p++;
    return p;
}
#endif

PyDoc_STRVAR(encode_chunk_doc,
"encode_chunk(data, state, portable=False, /)\n--\n\n"
"Wire bytes for one chunk of message content, and the state for the next chunk.\n\n"
"data is a contiguous bytes-like object; state holds bit 1 (the output stands at a\n"
"line start) and bit 2 (the previous chunk ended in a CR).  Returns (bytes, state).\n"
"portable=True uses the plain C search instead of SSE2 (for the tests).");

static PyObject *
encode_chunk(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    long state;
    int portable = 0;
    const char *p, *end;
    char *out, *o;
    int at_line_start, skip_lf;
    PyObject *result;
    const char *(*copy_run)(const char *, const char *, char **);

    (void)module;
    if (nargs < 2 || nargs > 3) {
        PyErr_Format(PyExc_TypeError,
                     "encode_chunk() takes 2 or 3 arguments (%zd given)", nargs);
        return NULL;
    }
    state = PyLong_AsLong(args[1]);
    if (state == -1 && PyErr_Occurred())
        return NULL;
    if (state < 0 || state > (AT_LINE_START | SKIP_LF)) {
        PyErr_Format(PyExc_ValueError, "encode_chunk(): state must be 0-3, not %ld", state);
        return NULL;
    }
    if (nargs == 3) {
        portable = PyObject_IsTrue(args[2]);
        if (portable < 0)
            return NULL;
    }
#if HAVE_SSE2
    copy_run = portable ? copy_run_portable : copy_run_sse2;
#else
    copy_run = copy_run_portable;
#endif
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    /* Every input byte gives at most two output bytes (LF or CR -> CRLF, "." -> ".."),
     * plus 16 bytes of slack for the SSE2 loop's whole-block stores. */
    if (view.len > (PY_SSIZE_T_MAX - 16) / 2) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    /* A scratch buffer of the worst-case size, then an exact-size bytes copy: growing a
     * bytes object in place and shrinking it would leave glibc handing out fresh mmap'd
     * pages (and their page faults) for every chunk, which cost more than the copy. */
    out = PyMem_RawMalloc((size_t)view.len * 2 + 16);
    if (out == NULL) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    p = (const char *)view.buf;
    end = p + view.len;
    at_line_start = (state & AT_LINE_START) != 0;
    skip_lf = (state & SKIP_LF) != 0;
    o = out;

    Py_BEGIN_ALLOW_THREADS
    if (skip_lf && p < end) {
        if (*p == '\n')
            p++; /* the LF of a CRLF split between two chunks: the CRLF is already out */
        skip_lf = 0;
    }
    while (p < end) {
        if (at_line_start && *p == '.')
            *o++ = '.';
        const char *stop = copy_run(p, end, &o);
        if (stop != p)
            at_line_start = 0;
        p = stop;
        if (p == end)
            break;
        *o++ = '\r';
        *o++ = '\n';
        at_line_start = 1;
        if (*p++ == '\r') {
            if (p == end)
                skip_lf = 1;
            else if (*p == '\n')
                p++;
        }
    }
    Py_END_ALLOW_THREADS

    PyBuffer_Release(&view);
    result = PyBytes_FromStringAndSize(out, o - out);
    PyMem_RawFree(out);
    if (result == NULL)
        return NULL;
    return Py_BuildValue("(Ni)", result,
                         (at_line_start ? AT_LINE_START : 0) | (skip_lf ? SKIP_LF : 0));
}

static PyMethodDef speedups_methods[] = {
    {"encode_chunk", (PyCFunction)(void (*)(void))encode_chunk, METH_FASTCALL,
     encode_chunk_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    "post_office._speedups",
    "The DATA encoder's inner loop in C; see post_office.wire.",
    0,
    speedups_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&speedups_module);
}
