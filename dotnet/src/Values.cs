using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;

namespace XenAPI
{
    /// <summary>
    /// Converts between .NET values and libxenapi values (<c>xenapi_value</c>).
    /// <list type="table">
    /// <listheader><term>XML-RPC / XenAPI</term><description>.NET</description></listheader>
    /// <item><term>string (also refs, enums, int64s sent as strings)</term><description><see cref="string"/></description></item>
    /// <item><term>int, i4, i8</term><description><see cref="long"/></description></item>
    /// <item><term>boolean</term><description><see cref="bool"/></description></item>
    /// <item><term>double (Infinity, NaN too)</term><description><see cref="double"/></description></item>
    /// <item><term>dateTime.iso8601</term><description><see cref="DateTime"/> (UTC)</description></item>
    /// <item><term>base64</term><description><c>byte[]</c></description></item>
    /// <item><term>array (sets, lists)</term><description><c>object[]</c></description></item>
    /// <item><term>struct (records, maps)</term><description><c>Dictionary&lt;string, object&gt;</c>, in the server's order</description></item>
    /// <item><term>nil (xend)</term><description>null</description></item>
    /// </list>
    /// Arguments accept the same types, plus int, short, byte, uint, float, enums (sent by their
    /// wire names), <see cref="XenRef{T}"/> (its reference),
    /// any <see cref="IDictionary"/> (keys sent as invariant text) and any <see cref="IEnumerable"/>.
    /// The wire encoding (an int64 above 2^31 as a string, ...) is the core's business.
    /// </summary>
    internal static class Values
    {
        static readonly DateTime Epoch = new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc);

        // ------------------------------------------------------------------ .NET -> native

        /// <summary>A new owned native value for <paramref name="o"/>.</summary>
        internal static IntPtr ToNative(object o)
        {
            // mcs (Mono's compiler) has no type patterns in switch: an if chain, commonest first.
            ErrorHandle err;
            if (o == null) return NativeMethods.xenapi_value_new_nil();
            if (o is string s)
            {
                Check.Ok(NativeMethods.xenapi_value_new_string(Utf8.Z(s), out IntPtr v, out err), err);
                return v;
            }
            if (o is IXenRef x) return ToNative(x.opaque_ref);
            if (o is bool b) return NativeMethods.xenapi_value_new_bool(b);
            if (o is long l) return NativeMethods.xenapi_value_new_int64(l);
            if (o is int i) return NativeMethods.xenapi_value_new_int64(i);
            if (o is double d) return NativeMethods.xenapi_value_new_double(d);
            if (o is Enum e) return ToNative(Conv.EnumName(e));
            if (o is DateTime t) return NativeMethods.xenapi_value_new_datetime_unix(UnixSeconds(t));
            if (o is DateTimeOffset to) return NativeMethods.xenapi_value_new_datetime_unix(to.ToUnixTimeSeconds());
            if (o is byte[] bytes)
            {
                Check.Ok(NativeMethods.xenapi_value_new_base64(bytes, (UIntPtr)bytes.Length, out IntPtr v, out err), err);
                return v;
            }
            if (o is ulong u)
            {
                if (u > long.MaxValue) throw new ArgumentOutOfRangeException(nameof(o), "XenAPI integers are int64");
                return NativeMethods.xenapi_value_new_int64((long)u);
            }
            if (o is short || o is sbyte || o is byte || o is ushort || o is uint)
                return NativeMethods.xenapi_value_new_int64(System.Convert.ToInt64(o, CultureInfo.InvariantCulture));
            if (o is float || o is decimal)
                return NativeMethods.xenapi_value_new_double(System.Convert.ToDouble(o, CultureInfo.InvariantCulture));
            if (o is IDictionary map) return StructToNative(map);
            if (o is IEnumerable seq) return ArrayToNative(seq);
            throw new ArgumentException("cannot send a " + o.GetType().FullName + " to XenAPI", nameof(o));
        }

        static IntPtr ArrayToNative(IEnumerable seq)
        {
            IntPtr a = NativeMethods.xenapi_value_new_array();
            try
            {
                foreach (object item in seq)
                {
                    // push takes the item, on failure too
                    Check.Ok(NativeMethods.xenapi_value_array_push(a, ToNative(item), out ErrorHandle err), err);
                }
                return a;
            }
            catch
            {
                NativeMethods.xenapi_value_free(a);
                throw;
            }
        }

        static IntPtr StructToNative(IDictionary map)
        {
            IntPtr s = NativeMethods.xenapi_value_new_struct();
            try
            {
                foreach (DictionaryEntry e in map)
                {
                    string key = Convert.ToString(e.Key is Enum k ? Conv.EnumName(k) : e.Key is IXenRef x ? x.opaque_ref : e.Key,
                                                  CultureInfo.InvariantCulture);
                    Check.Ok(NativeMethods.xenapi_value_struct_set(s, Utf8.Z(key), ToNative(e.Value), out ErrorHandle err), err);
                }
                return s;
            }
            catch
            {
                NativeMethods.xenapi_value_free(s);
                throw;
            }
        }

        internal static long UnixSeconds(DateTime t)
        {
            if (t.Kind == DateTimeKind.Local) t = t.ToUniversalTime();
            return (long)Math.Floor((t - new DateTime(1970, 1, 1, 0, 0, 0, t.Kind)).TotalSeconds);
        }

        // ------------------------------------------------------------------ native -> .NET

        // xenapi_value_kind
        internal const int KInvalid = 0, KNil = 1, KBool = 2, KInt = 3, KDouble = 4, KString = 5,
                           KDateTime = 6, KBase64 = 7, KArray = 8, KStruct = 9;

        /// <summary>The .NET value of a native value (borrowed pointer).</summary>
        internal static object FromNative(IntPtr v) => FromNative(v, 0);

        // Records of one class repeat the same member names in the same order (2,000 VM records:
        // the same ~90 names 2,000 times), and many values too ("Halted", "restart", "hvm", ...).
        // Per nesting depth, the name and the string value last read at each member position are
        // remembered; an ASCII text equal to it (compared byte by byte) reuses that string instead
        // of decoding and allocating a new one. Caches are per thread.
        [ThreadStatic] static string[][] keyCache;
        const int KeyCacheDepth = 8, KeyCacheWidth = 256;

        static string[] KeyCache(int depth)
        {
            if (depth >= KeyCacheDepth) return null;
            if (keyCache == null) keyCache = new string[KeyCacheDepth][];
            return keyCache[depth] ?? (keyCache[depth] = new string[KeyCacheWidth]);
        }

        [ThreadStatic] static string[][] valueCache;

        static string[] ValueCache(int depth)
        {
            if (depth >= KeyCacheDepth) return null;
            if (valueCache == null) valueCache = new string[KeyCacheDepth][];
            return valueCache[depth] ?? (valueCache[depth] = new string[KeyCacheWidth]);
        }

        static unsafe string Cached(IntPtr p, string[] seen, int i)
        {
            if (seen == null || i >= KeyCacheWidth || p == IntPtr.Zero) return Utf8.Read(p);
            string last = seen[i];
            if (last != null)
            {
                byte* b = (byte*)p;
                int k = 0;
                while (k < last.Length && b[k] != 0 && b[k] < 0x80 && b[k] == last[k]) k++; // ASCII only
                if (k == last.Length && b[k] == 0) return last;
            }
            return seen[i] = Utf8.Read(p);
        }

        static object FromNative(IntPtr v, int depth)
        {
            // Most members of a reply are strings: try that first (one call instead of two).
            if (NativeMethods.xenapi_value_get_string(v, out IntPtr str, IntPtr.Zero) == Status.Ok)
                return Utf8.Read(str);
            switch (NativeMethods.xenapi_value_get_kind(v))
            {
                case KString: return ReadString(v);
                case KStruct:
                {
                    int n = (int)NativeMethods.xenapi_value_struct_len(v);
                    var d = new Dictionary<string, object>(n, StringComparer.Ordinal);
                    string[] seen = KeyCache(depth);
                    for (int i = 0; i < n; i++)
                    {
                        string key = Cached(NativeMethods.xenapi_value_struct_key(v, (UIntPtr)i), seen, i);
                        IntPtr m = NativeMethods.xenapi_value_struct_value(v, (UIntPtr)i);
                        d[key] = NativeMethods.xenapi_value_get_string(m, out IntPtr ms, IntPtr.Zero) == Status.Ok
                            ? Cached(ms, ValueCache(depth), i)
                            : FromNative(m, depth + 1);
                    }
                    return d;
                }
                case KArray:
                {
                    int n = (int)NativeMethods.xenapi_value_array_len(v);
                    var a = new object[n];
                    for (int i = 0; i < n; i++)
                        a[i] = FromNative(NativeMethods.xenapi_value_array_get(v, (UIntPtr)i), depth + 1);
                    return a;
                }
                case KInt:
                {
                    NativeMethods.xenapi_value_get_int64(v, out long l, IntPtr.Zero);
                    return l;
                }
                case KBool:
                {
                    NativeMethods.xenapi_value_get_bool(v, out bool b, IntPtr.Zero);
                    return b;
                }
                case KDouble:
                {
                    NativeMethods.xenapi_value_get_double(v, out double d, IntPtr.Zero);
                    return d;
                }
                case KDateTime:
                {
                    if (NativeMethods.xenapi_value_get_datetime_unix(v, out long secs, IntPtr.Zero) == Status.Ok)
                        return Epoch.AddSeconds(secs);
                    // Text that is no date: keep it rather than fail the whole reply.
                    NativeMethods.xenapi_value_get_datetime(v, out IntPtr text, IntPtr.Zero);
                    return Utf8.Read(text);
                }
                case KBase64:
                {
                    NativeMethods.xenapi_value_get_base64(v, out IntPtr data, out UIntPtr len, IntPtr.Zero);
                    var bytes = new byte[(int)len];
                    if (bytes.Length > 0) System.Runtime.InteropServices.Marshal.Copy(data, bytes, 0, bytes.Length);
                    return bytes;
                }
                case KNil:
                    return null;
                default:
                    throw new XenApiException(ErrorKind.Internal, "libxenapi returned a value of unknown kind");
            }
        }

        internal static string ReadString(IntPtr v)
        {
            NativeMethods.xenapi_value_get_string(v, out IntPtr s, IntPtr.Zero);
            return Utf8.Read(s);
        }
    }
}
