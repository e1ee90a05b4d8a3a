/*
 * xenapi.h: the C interface of libxenapi, a XenAPI (Xen Management API) client for xapi
 * (XenServer, XCP-ng) and xend (Xen 3.x).
 *
 * Link with -lxenapi (pkg-config --cflags --libs xenapi). Plain C99; usable from C++.
 *
 * Conventions
 * -----------
 * Handles. Every object is an opaque pointer: xenapi_options, xenapi_session, xenapi_value,
 * xenapi_error, xenapi_string_list, and the generated API's records (xenapi_vm_record, ...),
 * lists (xenapi_vm_operations_list, ...) and maps (xenapi_string_map, xenapi_vm_record_map, ...).
 * Each has a xenapi_*_free function that accepts NULL. Never free a handle twice or use it after
 * freeing it.
 *
 * The generated API (include/xenapi/, included at the end of this file) has a function for
 * every XenAPI message: xenapi_<class>_<message> and xenapi_async_<class>_<message>; its rules
 * are in ffi/GENERATED.md.
 *
 * Status and errors. A function that can fail returns an xenapi_status (XENAPI_STATUS_OK is 0)
 * and takes as its last parameter `xenapi_error **err`. Pass NULL if you only want the status;
 * otherwise the function stores NULL in *err on success and a new error object on failure, which
 * you free with xenapi_error_free (*err is overwritten, not freed: free an earlier error first).
 * The error gives the status, a message, and for
 * XENAPI_STATUS_API the XenAPI code (e.g. "VM_BAD_POWER_STATE") and its parameters.
 * A NULL required pointer gives XENAPI_STATUS_NULL_ARGUMENT, never a crash; invalid UTF-8 or an
 * unusable value gives XENAPI_STATUS_INVALID_ARGUMENT. A bug inside the library is reported as
 * XENAPI_STATUS_PANIC; it never unwinds or aborts into the caller. Results are stored in
 * out-parameters (named out_*) only on success.
 *
 * Strings. Every string passed in is NUL-terminated UTF-8 and borrowed for the duration of the
 * call. A string handed out is either
 *   - owned: returned through `char **`; free it with xenapi_string_free, or
 *   - borrowed: returned as `const char *`; valid until the handle it comes from is freed
 *     (or, for a value, changed). Each function says which.
 *
 * References (OpaqueRef:... on xapi, UUIDs on xend) are strings.
 *
 * Threads. A xenapi_session is safe to share between threads: any number of threads may call
 * functions on one session at once (xenapi_session_free excepted). Options and values are not
 * synchronised: change one from one thread at a time; reading an unchanging value from several
 * threads is safe. Errors, lists and usage handles are immutable, and so are the RRD handles
 * (xenapi_rrd_updates, xenapi_rrd, xenapi_rrd_usage).
 *
 * Transfers. xenapi_transfer_* move disks and VMs over HTTP beside the API, streamed in bounded
 * memory. Bytes go through the caller's callbacks (xenapi_write_fn, xenapi_read_fn, each with a
 * `void *user` passed back as is) or a file path; xenapi_transfer_options adds a progress
 * callback, a xenapi_cancel, the caller's task and an idle timeout. Callbacks run on the thread
 * that started the transfer, never after it returns, and must not unwind (longjmp, C++
 * exceptions). A cancelled transfer fails with XENAPI_STATUS_API, code TASK_CANCELLED.
 *
 * Deadlines, cancel, asynchronous calls. The options' timeout (xenapi_options_set_timeout_ms)
 * bounds each whole operation a caller starts, the library's own calls inside it included:
 * a login (xenapi_session_connect, xenapi_session_login_with_password) makes the protocol probe,
 * the login (again at the pool coordinator after HOST_IS_SLAVE) and host.get_all_records for
 * failover; a call may log in again after SESSION_INVALID and fail over to a new coordinator;
 * xenapi_session_free of the last handle logs out, waiting at most min(timeout, 5 s). A view
 * of a session (xenapi_session_with_timeout, xenapi_session_with_call_options) gives its calls
 * another deadline, a xenapi_cancel (a running call ends within 100 ms with
 * XENAPI_STATUS_CANCELLED) and a W3C traceparent. xenapi_session_call_async runs a call on a
 * library thread and hands its outcome to a callback there (xenapi_call_done_fn).
 *
 * Quick start
 * -----------
 *     xenapi_options *opts = NULL;
 *     xenapi_session *s = NULL;
 *     xenapi_error *err = NULL;
 *     xenapi_options_new("https://xs1.example.com", &opts, NULL);
 *     xenapi_options_set_fingerprint(opts, "AB:CD:...", NULL);
 *     if (xenapi_session_connect(opts, "root", "secret", &s, &err) != XENAPI_STATUS_OK) {
 *         fprintf(stderr, "%s\n", xenapi_error_message(err));
 *         xenapi_error_free(err);
 *     }
 *     xenapi_options_free(opts);
 *     ...
 *     xenapi_session_free(s);  // logs out
 */
