using System;
using System.Runtime.InteropServices;

namespace XenApi
{
    /// <summary>xenapi_status: 0 is success, anything else a failure described by an error object.</summary>
    internal enum Status : int
    {
        Ok = 0,
    }

    /// <summary>
    /// The C ABI of libxenapi (<c>include/xenapi.h</c>), one DllImport per function and nothing
    /// else. Strings go in as NUL-terminated UTF-8 byte arrays (<see cref="Utf8.Z"/>) and come out
    /// as pointers read with <see cref="Utf8.Read(IntPtr)"/>; C <c>bool</c> is one byte.
    /// "xenapi" resolves to libxenapi.so, libxenapi.dylib or xenapi.dll (NuGet: runtimes/RID/native).
    /// </summary>
    internal static class NativeMethods
    {
        internal const string Lib = "xenapi";
        const CallingConvention CC = CallingConvention.Cdecl;

        // ---- library ----
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_version();
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_status_name(int status);

        // ---- errors ----
        [DllImport(Lib, CallingConvention = CC)] internal static extern int xenapi_error_status(ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_error_message(ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_error_code(ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern UIntPtr xenapi_error_param_count(ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_error_param(ErrorHandle err, UIntPtr index);
        [DllImport(Lib, CallingConvention = CC)] internal static extern ushort xenapi_error_http_status(ErrorHandle err);
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
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_options_set_follow_coordinator(OptionsHandle options, [MarshalAs(UnmanagedType.U1)] bool follow, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_options_set_max_response_bytes(OptionsHandle options, ulong bytes, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_options_set_version(OptionsHandle options, byte[] version, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_options_set_originator(OptionsHandle options, byte[] originator, out ErrorHandle err);
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
            throw FromNative((int)s, err);
        }

        internal static XenApiException FromNative(int status, ErrorHandle err)
        {
            using (err)
            {
                if (err == null || err.IsInvalid)
                    return XenApiException.Create((ErrorKind)status, Utf8.Read(NativeMethods.xenapi_status_name(status)), null, 0);
                string message = Utf8.Read(NativeMethods.xenapi_error_message(err));
                string code = Utf8.Read(NativeMethods.xenapi_error_code(err));
                string[] description = null;
                if (code != null)
                {
                    int n = (int)NativeMethods.xenapi_error_param_count(err);
                    description = new string[n + 1];
                    description[0] = code;
                    for (int i = 0; i < n; i++)
                        description[i + 1] = Utf8.Read(NativeMethods.xenapi_error_param(err, (UIntPtr)i));
                }
                int http = NativeMethods.xenapi_error_http_status(err);
                return XenApiException.Create((ErrorKind)status, message, description, http);
            }
        }
    }
}
