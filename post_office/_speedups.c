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

/* GCC and Clang only (__builtin_ctz); other compilers take the memchr path. */
#if defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__))
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

/* The transformation itself, on plain memory; returns the end of the output.  The state
 * (AT_LINE_START | SKIP_LF) is read from and written back to *state. */
static char *
encode(const char *p, const char *end, char *o, int *state,
       const char *(*copy_run)(const char *, const char *, char **))
{
    int at_line_start = (*state & AT_LINE_START) != 0;
    int skip_lf = (*state & SKIP_LF) != 0;

    if (skip_lf && p < end) {
        if (*p == '\n')
            p++; /* the LF of a CRLF split between two chunks: the CRLF is already out */
        skip_lf = 0;
    }
    while (p < end) {
        const char *stop;
        if (at_line_start && *p == '.')
            *o++ = '.';
        stop = copy_run(p, end, &o);
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
    *state = (at_line_start ? AT_LINE_START : 0) | (skip_lf ? SKIP_LF : 0);
    return o;
}

PyDoc_STRVAR(encode_into_doc,
"encode_into(data, state, out, portable=False, /)\n--\n\n"
"Write the wire bytes for one chunk of message content into out.\n\n"
"data is a contiguous bytes-like object; out a writable buffer of at least\n"
"2 * len(data) + 16 bytes, which the caller keeps from chunk to chunk; state holds\n"
"bit 1 (the output stands at a line start) and bit 2 (the previous chunk ended in a\n"
"CR).  Returns (bytes written, state for the next chunk).  portable=True uses the\n"
"plain C search instead of SSE2 (for the tests).");

static PyObject *
encode_into(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer data, out;
    long state_arg;
    int state, portable = 0;
    char *written;
    Py_ssize_t needed, length;
    const char *(*copy_run)(const char *, const char *, char **);

    (void)module;
    if (nargs < 3 || nargs > 4) {
        PyErr_Format(PyExc_TypeError,
                     "encode_into() takes 3 or 4 arguments (%zd given)", nargs);
        return NULL;
    }
    state_arg = PyLong_AsLong(args[1]);
    if (state_arg == -1 && PyErr_Occurred())
        return NULL;
    if (state_arg < 0 || state_arg > (AT_LINE_START | SKIP_LF)) {
        PyErr_Format(PyExc_ValueError, "encode_into(): state must be 0-3, not %ld",
                     state_arg);
        return NULL;
    }
    state = (int)state_arg;
    if (nargs == 4) {
        portable = PyObject_IsTrue(args[3]);
        if (portable < 0)
            return NULL;
    }
#if HAVE_SSE2
    copy_run = portable ? copy_run_portable : copy_run_sse2;
#else
    copy_run = copy_run_portable;
#endif
    if (PyObject_GetBuffer(args[0], &data, PyBUF_SIMPLE) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[2], &out, PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    /* Every input byte gives at most two output bytes (LF or CR -> CRLF, "." -> ".."),
     * plus 16 bytes of slack for the SSE2 loop's whole-block stores. */
    needed = data.len <= (PY_SSIZE_T_MAX - 16) / 2 ? data.len * 2 + 16 : PY_SSIZE_T_MAX;
    if (out.len < needed) {
        PyErr_Format(PyExc_ValueError, "encode_into(): out holds %zd bytes, %zd needed",
                     out.len, needed);
        PyBuffer_Release(&out);
        PyBuffer_Release(&data);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    written = encode((const char *)data.buf, (const char *)data.buf + data.len,
                     (char *)out.buf, &state, copy_run);
    Py_END_ALLOW_THREADS
    length = (Py_ssize_t)(written - (char *)out.buf);
    PyBuffer_Release(&out);
    PyBuffer_Release(&data);
    return Py_BuildValue("(ni)", length, state);
}

static PyMethodDef speedups_methods[] = {
    {"encode_into", (PyCFunction)(void (*)(void))encode_into, METH_FASTCALL,
     encode_into_doc},
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
