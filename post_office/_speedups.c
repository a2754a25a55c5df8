/* post_office._speedups: the DATA encoder's inner loop in C (optional).
 *
 * The same transformation as post_office.wire.DotStuffer's pure-Python path, in one
 * pass: LF, CRLF and bare CR each become CRLF, and a "." that starts a line gets one more
 * "." (RFC 5321 4.5.2).  The pure-Python path needs several whole-buffer passes
 * (bytes.replace, a dot search, a join) because CPython has no single primitive for it;
 * here each line costs one memchr and one memcpy, which is what lets send_smtp stream
 * close to the speed of the socket.  The Python path stays the reference: the tests
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

PyDoc_STRVAR(encode_chunk_doc,
"encode_chunk(data, state, /)\n--\n\n"
"Wire bytes for one chunk of message content, and the state for the next chunk.\n\n"
"data is a contiguous bytes-like object; state holds bit 1 (the output stands at a\n"
"line start) and bit 2 (the previous chunk ended in a CR).  Returns (bytes, state).");

static PyObject *
encode_chunk(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    long state;
    const char *p, *end, *next_lf, *next_cr, *stop;
    char *out, *o;
    size_t run;
    int at_line_start, skip_lf;
    PyObject *result;

    (void)module;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError,
                     "encode_chunk() takes exactly 2 arguments (%zd given)", nargs);
        return NULL;
    }
    state = PyLong_AsLong(args[1]);
    if (state == -1 && PyErr_Occurred())
        return NULL;
    if (state < 0 || state > (AT_LINE_START | SKIP_LF)) {
        PyErr_Format(PyExc_ValueError, "encode_chunk(): state must be 0-3, not %ld", state);
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    /* Every input byte gives at most two output bytes: LF or CR -> CRLF, "." -> "..". */
    if (view.len > (PY_SSIZE_T_MAX - 1) / 2) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    /* A scratch buffer of the worst-case size, then an exact-size bytes copy: growing a
     * bytes object in place and shrinking it would leave glibc handing out fresh mmap'd
     * pages (and their page faults) for every chunk, which cost more than the copy. */
    out = PyMem_RawMalloc((size_t)view.len * 2 + 1);
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
    /* The next LF and the next CR, each found with memchr and kept until passed, so a
     * chunk without CRs costs one memchr for them in all. */
    next_lf = next_cr = NULL;
    while (p < end) {
        if (at_line_start && *p == '.')
            *o++ = '.';
        if (next_lf == NULL || next_lf < p) {
            next_lf = memchr(p, '\n', (size_t)(end - p));
            if (next_lf == NULL)
                next_lf = end;
        }
        if (next_cr == NULL || next_cr < p) {
            next_cr = memchr(p, '\r', (size_t)(end - p));
            if (next_cr == NULL)
                next_cr = end;
        }
        stop = next_lf < next_cr ? next_lf : next_cr;
        run = (size_t)(stop - p);
        memcpy(o, p, run);
        o += run;
        p = stop;
        if (p == end) {
            if (run)
                at_line_start = 0;
            break;
        }
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
