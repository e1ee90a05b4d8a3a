using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace XenAPI
{
    /// <summary>xenapi_status: 0 is success, anything else a failure described by an error object.</summary>
    internal enum Status : int
    {
        Ok = 0,
    }

    /// <summary>
    /// The hand-written part of libxenapi's C ABI (<c>include/xenapi.h</c>: options, sessions,
    /// errors, untyped values, string lists, task waits), one DllImport per function used; the
    /// generated part is <c>Generated/Native.cs</c>. Strings go in as NUL-terminated UTF-8 byte arrays (<see cref="Utf8.Z"/>) and come out
    /// as pointers read with <see cref="Utf8.Read(IntPtr)"/>; C <c>bool</c> is one byte.
    /// "xenapi" resolves to libxenapi.so, libxenapi.dylib or xenapi.dll (NuGet: runtimes/RID/native).
    /// </summary>
    [System.Security.SuppressUnmanagedCodeSecurity]
    internal static class NativeMethods
    {
        internal const string Lib = "xenapi";
        const CallingConvention CC = CallingConvention.Cdecl;

        // ---- library ----
        [DllImport(Lib, CallingConvention = CC, EntryPoint = "xenapi_version")] internal static extern IntPtr xenapi_version_unchecked();
        /// <summary>xenapi_version, loading libxenapi first (<see cref="NativeLibraryProbe"/>): the call a
        /// program may make before any session.</summary>
        internal static IntPtr xenapi_version()
        {
            NativeLibraryProbe.EnsureLoaded();
            return xenapi_version_unchecked();
        }
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_status_name(int status);

        // ---- errors ----
        [DllImport(Lib, CallingConvention = CC)] internal static extern int xenapi_error_status(IntPtr err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_error_message(IntPtr err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_error_code(IntPtr err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern UIntPtr xenapi_error_param_count(IntPtr err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_error_param(IntPtr err, UIntPtr index);
        [DllImport(Lib, CallingConvention = CC)] internal static extern ushort xenapi_error_http_status(IntPtr err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern void xenapi_error_free(IntPtr err);

        // ---- strings ----
        [DllImport(Lib, CallingConvention = CC)] internal static extern void xenapi_string_free(IntPtr s);
        [DllImport(Lib, CallingConvention = CC)] internal static extern UIntPtr xenapi_string_list_len(StringListHandle list);
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_string_list_get(StringListHandle list, UIntPtr index);
        [DllImport(Lib, CallingConvention = CC)] internal static extern void xenapi_string_list_free(IntPtr list);

        // ---- options ----
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_options_new(byte[] url, out OptionsHandle options, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern void xenapi_options_free(IntPtr options);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_options_set_connect_timeout_ms(OptionsHandle options, ulong ms, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_options_set_timeout_ms(OptionsHandle options, ulong ms, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_options_set_ca_file(OptionsHandle options, byte[] path, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_options_set_fingerprint(OptionsHandle options, byte[] fingerprint, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_options_set_insecure_skip_verify(OptionsHandle options, [MarshalAs(UnmanagedType.U1)] bool skip, out ErrorHandle err);
        [UnmanagedFunctionPointer(CC)]
        [return: MarshalAs(UnmanagedType.I1)]
        internal delegate bool CertificateCallback(IntPtr userData, IntPtr der, UIntPtr derLen, IntPtr serverName, int problem, IntPtr explanation);
        [UnmanagedFunctionPointer(CC)]
        internal delegate void UserDataFinalizer(IntPtr userData);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_options_set_certificate_callback(OptionsHandle o, CertificateCallback callback, IntPtr userData, UserDataFinalizer finalizer, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_options_set_follow_coordinator(OptionsHandle options, [MarshalAs(UnmanagedType.U1)] bool follow, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_options_set_max_response_bytes(OptionsHandle options, ulong bytes, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_options_set_version(OptionsHandle options, byte[] version, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_options_set_originator(OptionsHandle options, byte[] originator, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_options_set_protocol(OptionsHandle options, int protocol, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern int xenapi_session_get_protocol(SessionHandle session);

        // ---- sessions ----
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_session_new(OptionsHandle options, out SessionHandle session, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_session_connect(OptionsHandle options, byte[] user, byte[] password, out SessionHandle session, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_session_login_with_password(SessionHandle session, byte[] user, byte[] password, byte[] version, byte[] originator, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_session_logout(SessionHandle session, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_session_slave_local_login_with_password(SessionHandle session, byte[] user, byte[] password, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_session_local_logout(SessionHandle session, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern void xenapi_session_free(IntPtr session);
        [DllImport(Lib, CallingConvention = CC)] [return: MarshalAs(UnmanagedType.U1)] internal static extern bool xenapi_session_is_logged_in(SessionHandle session);
        [DllImport(Lib, CallingConvention = CC)] internal static extern int xenapi_session_get_dialect(SessionHandle session);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_session_get_url(SessionHandle session, out NativeStringHandle url, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_session_get_reference(SessionHandle session, out NativeStringHandle reference, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_session_call(SessionHandle session, byte[] method, IntPtr[] args, UIntPtr nargs, out ValueHandle result, out ErrorHandle err);

        // ---- values: constructors (owned results) ----
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_value_new_nil();
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_value_new_bool([MarshalAs(UnmanagedType.U1)] bool b);
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_value_new_int64(long i);
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_value_new_double(double d);
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_value_new_array();
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_value_new_struct();
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_value_new_datetime_unix(long unixSeconds);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_value_new_string(byte[] s, out IntPtr value, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_value_new_base64(byte[] data, UIntPtr len, out IntPtr value, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern void xenapi_value_free(IntPtr value);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_value_array_push(IntPtr array, IntPtr item, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_value_struct_set(IntPtr st, byte[] key, IntPtr item, out ErrorHandle err);

        // ---- values: readers (borrowed pointers; the hot path of every reply, so no SafeHandle
        // per element and no error object: the kind is checked first) ----
        [DllImport(Lib, CallingConvention = CC)] internal static extern int xenapi_value_get_kind(IntPtr value);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_value_get_string(IntPtr value, out IntPtr s, IntPtr noErr);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_value_get_int64(IntPtr value, out long i, IntPtr noErr);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_value_get_bool(IntPtr value, [MarshalAs(UnmanagedType.U1)] out bool b, IntPtr noErr);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_value_get_double(IntPtr value, out double d, IntPtr noErr);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_value_get_datetime(IntPtr value, out IntPtr text, IntPtr noErr);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_value_get_datetime_unix(IntPtr value, out long unixSeconds, IntPtr noErr);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_value_get_base64(IntPtr value, out IntPtr data, out UIntPtr len, IntPtr noErr);
        [DllImport(Lib, CallingConvention = CC)] internal static extern UIntPtr xenapi_value_array_len(IntPtr value);
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_value_array_get(IntPtr value, UIntPtr index);
        [DllImport(Lib, CallingConvention = CC)] internal static extern UIntPtr xenapi_value_struct_len(IntPtr value);
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_value_struct_key(IntPtr value, UIntPtr index);
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_value_struct_value(IntPtr value, UIntPtr index);
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_value_struct_get(IntPtr value, byte[] key);

        // ---- tasks ----
        // ---- object cache ----
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_cache_new_with_options(SessionHandle session, IntPtr[] classes, UIntPtr n, double pollTimeoutSeconds, UIntPtr queueCapacity, out CacheHandle cache, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern void xenapi_cache_close(CacheHandle cache);
        [DllImport(Lib, CallingConvention = CC)] internal static extern void xenapi_cache_free(IntPtr cache);
        [DllImport(Lib, CallingConvention = CC)] [return: MarshalAs(UnmanagedType.U1)] internal static extern bool xenapi_cache_is_closed(CacheHandle cache);
        [DllImport(Lib, CallingConvention = CC)] internal static extern CacheStats xenapi_cache_status(CacheHandle cache);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_cache_get(CacheHandle cache, byte[] cls, byte[] r, out ValueHandle record, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_cache_refs(CacheHandle cache, byte[] cls, out StringListHandle refs, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_cache_take_snapshot(CacheHandle cache, out CacheSnapshotHandle snapshot, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern void xenapi_cache_snapshot_free(IntPtr snapshot);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_cache_snapshot_get(CacheSnapshotHandle snapshot, byte[] cls, byte[] r, out ValueHandle record, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_cache_snapshot_refs(CacheSnapshotHandle snapshot, byte[] cls, out StringListHandle refs, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_cache_next_change(CacheHandle cache, long timeoutMs, out CacheChangeHandle change, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern int xenapi_cache_change_kind(CacheChangeHandle change);
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_cache_change_class(CacheChangeHandle change);
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_cache_change_ref(CacheChangeHandle change);
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_cache_change_record(CacheChangeHandle change);
        [DllImport(Lib, CallingConvention = CC)] internal static extern void xenapi_cache_change_free(IntPtr change);

        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_task_wait(SessionHandle session, byte[] task, double timeoutSeconds, out ValueHandle result, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_task_wait_cancellable(SessionHandle session, byte[] task, double timeoutSeconds, IntPtr cancel, out ValueHandle result, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_cancel_new();
        [DllImport(Lib, CallingConvention = CC)] internal static extern void xenapi_cancel_cancel(IntPtr cancel);
        [DllImport(Lib, CallingConvention = CC)] internal static extern void xenapi_cancel_free(IntPtr cancel);

        // ---- call control and failover ----
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_options_set_failover(OptionsHandle options, [MarshalAs(UnmanagedType.U1)] bool on, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_options_set_max_concurrent_calls(OptionsHandle options, UIntPtr maxCalls, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_session_with_timeout(SessionHandle session, double timeoutSeconds, out SessionHandle view, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern UIntPtr xenapi_session_get_max_concurrent_calls(SessionHandle session);
    }

    /// <summary>Turns a status and its error object into an exception.</summary>
    internal static class Check
    {
        /// <summary>Throws the exception <paramref name="err"/> describes unless <paramref name="s"/> is OK; frees the error.</summary>
        internal static void Ok(Status s, ErrorHandle err)
        {
            if (s == Status.Ok)
            {
                err?.Dispose();
                return;
            }
            using (err)
                throw Errors.Read((int)s, err == null || err.IsInvalid ? IntPtr.Zero : err.DangerousGetHandle());
        }
    }

    /// <summary>libxenapi errors to exceptions.</summary>
    internal static class Errors
    {
        /// <summary>The exception for a failed generated call: reads and frees <paramref name="err"/>.</summary>
        internal static Exception FromNative(int status, IntPtr err) => FromNative(status, err, default);

        /// <summary><see cref="FromNative(int, IntPtr)"/>; a cancelled call
        /// (<c>XENAPI_STATUS_CANCELLED</c>) is an <see cref="OperationCanceledException"/>
        /// carrying <paramref name="token"/>.</summary>
        internal static Exception FromNative(int status, IntPtr err, System.Threading.CancellationToken token)
        {
            try
            {
                return Read(status, err, token);
            }
            finally
            {
                if (err != IntPtr.Zero) NativeMethods.xenapi_error_free(err);
            }
        }

        /// <summary>The exception <paramref name="err"/> (borrowed; may be NULL) describes.</summary>
        internal static Exception Read(int status, IntPtr err) => Read(status, err, default);

        static Exception Read(int status, IntPtr err, System.Threading.CancellationToken token)
        {
            if (status == CallNative.Cancelled)
            {
                string why = err == IntPtr.Zero ? "the call was cancelled" : Utf8.Read(NativeMethods.xenapi_error_message(err));
                return new OperationCanceledException(why, token);
            }
            if (err == IntPtr.Zero)
                return XenApiException.Create((ErrorKind)status, Utf8.Read(NativeMethods.xenapi_status_name(status)), null, 0);
            string message = Utf8.Read(NativeMethods.xenapi_error_message(err));
            string code = Utf8.Read(NativeMethods.xenapi_error_code(err));
            List<string> description = null;
            if (code != null)
            {
                int n = (int)NativeMethods.xenapi_error_param_count(err);
                description = new List<string>(n + 1) { code };
                for (int i = 0; i < n; i++)
                    description.Add(Utf8.Read(NativeMethods.xenapi_error_param(err, (UIntPtr)i)));
            }
            int http = NativeMethods.xenapi_error_http_status(err);
            return XenApiException.Create((ErrorKind)status, message, description, http);
        }
    }
}

namespace XenAPI
{
    using System.Runtime.InteropServices;

    /// <summary>libxenapi's HTTP transfers and RRDs (include/xenapi.h, "transfers" and "RRD"):
    /// callbacks run on the calling thread, inside the call; their delegates are kept alive by the
    /// caller for the length of the call.</summary>
    [System.Security.SuppressUnmanagedCodeSecurity]
    internal static class TransferNative
    {
        const string Lib = NativeMethods.Lib;
        const CallingConvention CC = CallingConvention.Cdecl;

        [UnmanagedFunctionPointer(CC)] [return: MarshalAs(UnmanagedType.I1)]
        internal delegate bool ProgressFn(IntPtr user, ulong done, long total);
        [UnmanagedFunctionPointer(CC)] [return: MarshalAs(UnmanagedType.I1)]
        internal delegate bool WriteFn(IntPtr user, IntPtr data, UIntPtr len);
        [UnmanagedFunctionPointer(CC)]
        internal delegate long ReadFn(IntPtr user, IntPtr buf, UIntPtr cap);

        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_transfer_options_new(out TransferOptionsHandle o, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern void xenapi_transfer_options_free(IntPtr o);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_transfer_options_set_progress(TransferOptionsHandle o, ProgressFn fn, IntPtr user, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_transfer_options_set_cancel(TransferOptionsHandle o, IntPtr cancel, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_transfer_options_set_task(TransferOptionsHandle o, byte[] task, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_transfer_options_set_idle_timeout_ms(TransferOptionsHandle o, ulong ms, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_options_set_proxy(OptionsHandle o, byte[] proxyUrl, out ErrorHandle err);

        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_transfer_vdi_export(SessionHandle s, byte[] vdi, int format, WriteFn write, IntPtr user, TransferOptionsHandle o, out ulong bytes, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_transfer_vdi_export_file(SessionHandle s, byte[] vdi, int format, byte[] path, TransferOptionsHandle o, out ulong bytes, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_transfer_vdi_import(SessionHandle s, byte[] vdi, int format, ReadFn read, IntPtr user, long length, TransferOptionsHandle o, out ulong bytes, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_transfer_vdi_import_file(SessionHandle s, byte[] vdi, int format, byte[] path, TransferOptionsHandle o, out ulong bytes, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_transfer_vm_export(SessionHandle s, byte[] vm, int compression, WriteFn write, IntPtr user, TransferOptionsHandle o, out ulong bytes, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_transfer_vm_export_file(SessionHandle s, byte[] vm, int compression, byte[] path, TransferOptionsHandle o, out ulong bytes, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_transfer_vm_import(SessionHandle s, ReadFn read, IntPtr user, long length, byte[] sr, TransferOptionsHandle o, out StringListHandle vms, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_transfer_vm_import_file(SessionHandle s, byte[] path, byte[] sr, TransferOptionsHandle o, out StringListHandle vms, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_transfer_download_url(OptionsHandle options, byte[] url, WriteFn write, IntPtr user, TransferOptionsHandle o, out ulong bytes, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_transfer_upload_url(OptionsHandle options, byte[] url, ReadFn read, IntPtr user, long length, TransferOptionsHandle o, out ulong bytes, out ErrorHandle err);

        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_rrd_updates_fetch(SessionHandle s, long start, long interval, byte[] cf, [MarshalAs(UnmanagedType.U1)] bool host, byte[] vmUuid, byte[] hostRef, out RrdUpdatesHandle updates, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_rrd_updates_parse(byte[] data, UIntPtr len, out RrdUpdatesHandle updates, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern void xenapi_rrd_updates_free(IntPtr updates);
        [DllImport(Lib, CallingConvention = CC)] internal static extern long xenapi_rrd_updates_start(RrdUpdatesHandle u);
        [DllImport(Lib, CallingConvention = CC)] internal static extern long xenapi_rrd_updates_end(RrdUpdatesHandle u);
        [DllImport(Lib, CallingConvention = CC)] internal static extern long xenapi_rrd_updates_step(RrdUpdatesHandle u);
        [DllImport(Lib, CallingConvention = CC)] internal static extern UIntPtr xenapi_rrd_updates_column_count(RrdUpdatesHandle u);
        [DllImport(Lib, CallingConvention = CC)] internal static extern UIntPtr xenapi_rrd_updates_row_count(RrdUpdatesHandle u);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_rrd_updates_column(RrdUpdatesHandle u, UIntPtr col, out IntPtr cf, out IntPtr kind, out IntPtr uuid, out IntPtr name, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_rrd_updates_time(RrdUpdatesHandle u, UIntPtr row, out long time, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_rrd_updates_value(RrdUpdatesHandle u, UIntPtr row, UIntPtr col, out double value, out ErrorHandle err);

        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_rrd_fetch_host(SessionHandle s, out RrdHandle rrd, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_rrd_fetch_vm(SessionHandle s, byte[] vmUuid, out RrdHandle rrd, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_rrd_parse(byte[] data, UIntPtr len, out RrdHandle rrd, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern void xenapi_rrd_free(IntPtr rrd);
        [DllImport(Lib, CallingConvention = CC)] internal static extern long xenapi_rrd_step(RrdHandle r);
        [DllImport(Lib, CallingConvention = CC)] internal static extern long xenapi_rrd_last_update(RrdHandle r);
        [DllImport(Lib, CallingConvention = CC)] internal static extern UIntPtr xenapi_rrd_source_count(RrdHandle r);
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_rrd_source_name(RrdHandle r, UIntPtr source);
        [DllImport(Lib, CallingConvention = CC)] internal static extern UIntPtr xenapi_rrd_archive_count(RrdHandle r);
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_rrd_archive_cf(RrdHandle r, UIntPtr archive);
        [DllImport(Lib, CallingConvention = CC)] internal static extern long xenapi_rrd_archive_step(RrdHandle r, UIntPtr archive);
        [DllImport(Lib, CallingConvention = CC)] internal static extern UIntPtr xenapi_rrd_archive_row_count(RrdHandle r, UIntPtr archive);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_rrd_row_time(RrdHandle r, UIntPtr archive, UIntPtr row, out long time, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_rrd_value(RrdHandle r, UIntPtr archive, UIntPtr row, UIntPtr source, out double value, out ErrorHandle err);

        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_rrd_vm_usage(SessionHandle s, byte[] vmUuid, long seconds, out RrdUsageHandle usage, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_rrd_host_usage(SessionHandle s, byte[] hostUuid, long seconds, out RrdUsageHandle usage, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern void xenapi_rrd_usage_free(IntPtr usage);
        [DllImport(Lib, CallingConvention = CC)] internal static extern UIntPtr xenapi_rrd_usage_cpu_count(RrdUsageHandle u);
        [DllImport(Lib, CallingConvention = CC)] [return: MarshalAs(UnmanagedType.U1)] internal static extern bool xenapi_rrd_usage_cpu(RrdUsageHandle u, UIntPtr i, out double value);
        [DllImport(Lib, CallingConvention = CC)] [return: MarshalAs(UnmanagedType.U1)] internal static extern bool xenapi_rrd_usage_memory_total(RrdUsageHandle u, out double value);
        [DllImport(Lib, CallingConvention = CC)] [return: MarshalAs(UnmanagedType.U1)] internal static extern bool xenapi_rrd_usage_memory_free(RrdUsageHandle u, out double value);
        [DllImport(Lib, CallingConvention = CC)] [return: MarshalAs(UnmanagedType.U1)] internal static extern bool xenapi_rrd_usage_memory_used(RrdUsageHandle u, out double value);
        [DllImport(Lib, CallingConvention = CC)] [return: MarshalAs(UnmanagedType.U1)] internal static extern bool xenapi_rrd_usage_disk_read(RrdUsageHandle u, out double value);
        [DllImport(Lib, CallingConvention = CC)] [return: MarshalAs(UnmanagedType.U1)] internal static extern bool xenapi_rrd_usage_disk_write(RrdUsageHandle u, out double value);
        [DllImport(Lib, CallingConvention = CC)] [return: MarshalAs(UnmanagedType.U1)] internal static extern bool xenapi_rrd_usage_net_rx(RrdUsageHandle u, out double value);
        [DllImport(Lib, CallingConvention = CC)] [return: MarshalAs(UnmanagedType.U1)] internal static extern bool xenapi_rrd_usage_net_tx(RrdUsageHandle u, out double value);
    }

    /// <summary><c>xenapi_transfer_options *</c>.</summary>
    internal sealed class TransferOptionsHandle : NativeHandle
    {
        protected override bool ReleaseHandle() { TransferNative.xenapi_transfer_options_free(handle); return true; }
    }

    /// <summary><c>xenapi_rrd_updates *</c>.</summary>
    internal sealed class RrdUpdatesHandle : NativeHandle
    {
        protected override bool ReleaseHandle() { TransferNative.xenapi_rrd_updates_free(handle); return true; }
    }

    /// <summary><c>xenapi_rrd *</c>.</summary>
    internal sealed class RrdHandle : NativeHandle
    {
        protected override bool ReleaseHandle() { TransferNative.xenapi_rrd_free(handle); return true; }
    }

    /// <summary><c>xenapi_rrd_usage *</c>.</summary>
    internal sealed class RrdUsageHandle : NativeHandle
    {
        protected override bool ReleaseHandle() { TransferNative.xenapi_rrd_usage_free(handle); return true; }
    }
}
