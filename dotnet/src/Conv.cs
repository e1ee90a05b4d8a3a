using System;
using System.Collections.Generic;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

// The generated round-trip tests write and read native records directly.
[assembly: InternalsVisibleTo("XenApi.Tests")]

namespace XenAPI
{
    /// <summary>One field as a record's <c>_fields</c> bulk getter writes it (C <c>xenapi_field</c>):
    /// <c>i</c> for int, datetime, bool and enum fields, <c>d</c> for floats, <c>p</c> for pointers.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 8)]
    internal struct Field
    {
        [FieldOffset(0)] internal long i;
        [FieldOffset(0)] internal double d;
        [FieldOffset(0)] internal IntPtr p;
    }

    /// <summary>
    /// The marshalling core of the generated API: borrowed C strings to .NET strings, references,
    /// dates; the generated part (<c>Generated/Convert.cs</c>) does collections and records.
    /// Records of one class repeat many texts at the same field (host references, "", "restart",
    /// the keys of <c>other_config</c>): the readers that take a <c>seen</c> array compare the C text
    /// with the string last read at that slot, byte by byte, and reuse it when equal instead of
    /// decoding a new one. Slots are shared across threads; a stale read only costs a decode.
    /// <para>Map order: every map reader (here and in <c>Generated/Convert.cs</c>) fills a new
    /// <c>Dictionary&lt;K, V&gt;</c> entry by entry in the native map's order, which is the order
    /// the server sent the members (libxenapi keeps it), and never removes from it. A Dictionary
    /// that has had no removal enumerates in insertion order on .NET Framework, Mono and .NET
    /// (Core) alike; the documentation does not promise it, so MapOrderTests checks it on the
    /// runtime the suite runs on. The public type stays <c>Dictionary&lt;K, V&gt;</c>, as
    /// XenServer.NET's records have it. Writers send a dictionary in its enumeration order.</para>
    /// </summary>
    internal static partial class Conv
    {
        /// <summary>Items a collection reader takes in its first native call, into stack buffers
        /// (a longer collection takes a second call, into arrays of its length).</summary>
        internal const int Room = 16;

        internal static readonly DateTime Epoch = new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        static readonly long MaxSeconds = (DateTime.MaxValue.Ticks - Epoch.Ticks) / TimeSpan.TicksPerSecond;
        static readonly long MinSeconds = -(Epoch.Ticks / TimeSpan.TicksPerSecond);

        /// <summary>A borrowed UTF-8 string; "" for NULL.</summary>
        internal static string Str(IntPtr p) => p == IntPtr.Zero ? "" : Utf8.Read(p);

        /// <summary>A borrowed UTF-8 string; null for NULL (an absent option).</summary>
        internal static string StrOrNull(IntPtr p) => Utf8.Read(p);

        /// <summary>An owned UTF-8 string, freed.</summary>
        internal static string TakeStr(IntPtr p)
        {
            try
            {
                return Str(p);
            }
            finally
            {
                if (p != IntPtr.Zero) NativeMethods.xenapi_string_free(p);
            }
        }

        static unsafe bool Same(byte* b, string s)
        {
            int k = 0;
            for (; k < s.Length; k++)
            {
                byte c = b[k];
                if (c == 0 || c >= 0x80 || c != s[k]) return false;
            }
            return b[k] == 0;
        }

        static unsafe string Cached(IntPtr p, string[] seen, int slot)
        {
            if (p == IntPtr.Zero) return "";
            byte* b = (byte*)p;
            if (b[0] == 0) return "";
            string last = seen[slot];
            if (last != null && Same(b, last)) return last;
            string s = Utf8.Read(p);
            seen[slot] = s;
            return s;
        }

        /// <summary>A borrowed string, reusing the one last read at <paramref name="slot"/> when equal.</summary>
        internal static unsafe string Str(IntPtr p, object[] seen, int slot)
        {
            if (p == IntPtr.Zero) return "";
            byte* b = (byte*)p;
            if (b[0] == 0) return "";
            if (seen[slot] is string last && Same(b, last)) return last;
            string s = Utf8.Read(p);
            seen[slot] = s;
            return s;
        }

        internal static XenRef<T> Ref<T>(IntPtr p) where T : class => new XenRef<T>(Str(p));

        internal static XenRef<T> RefOrNull<T>(IntPtr p) where T : class => p == IntPtr.Zero ? null : new XenRef<T>(Str(p));

        /// <summary>A reference, reusing the (immutable) one last read at <paramref name="slot"/> when equal.</summary>
        internal static unsafe XenRef<T> Ref<T>(IntPtr p, object[] seen, int slot) where T : class
        {
            if (p != IntPtr.Zero && seen[slot] is XenRef<T> last && Same((byte*)p, last.opaque_ref)) return last;
            var r = new XenRef<T>(Str(p));
            seen[slot] = r;
            return r;
        }

        /// <summary>A <c>(string -> string) map</c> of a record field, keys and values reused by position.</summary>
        internal static unsafe Dictionary<string, string> StringMap(IntPtr h, object[] seen, int slot)
        {
            if (h == IntPtr.Zero) return new Dictionary<string, string>();
            // One native call for the whole map: into stack buffers, or pinned arrays for a long map.
            IntPtr* ks = stackalloc IntPtr[Room];
            IntPtr* vs = stackalloc IntPtr[Room];
            int n = (int)Native.xenapi_string_map_entries(h, ks, vs, (UIntPtr)Room);
            if (n <= Room) return StringMap(ks, vs, n, seen, slot);
            var bk = new IntPtr[n];
            var bv = new IntPtr[n];
            fixed (IntPtr* pk = bk)
            fixed (IntPtr* pv = bv)
            {
                n = Math.Min(n, (int)Native.xenapi_string_map_entries(h, pk, pv, (UIntPtr)n));
                return StringMap(pk, pv, n, seen, slot);
            }
        }

        static unsafe Dictionary<string, string> StringMap(IntPtr* ks, IntPtr* vs, int n, object[] seen, int slot)
        {
            var d = new Dictionary<string, string>(n);
            if (n == 0) return d;
            var c = seen[slot] as string[];
            if (c == null || c.Length < 2 * n)
            {
                c = new string[Math.Max(2 * n, 16)];
                seen[slot] = c;
            }
            for (int i = 0; i < n; i++)
                d[Cached(ks[i], c, 2 * i)] = Cached(vs[i], c, 2 * i + 1);
            return d;
        }

        internal static DateTime Time(long seconds)
        {
            if (seconds == 0) return Epoch;
            if (seconds > MaxSeconds) return DateTime.SpecifyKind(DateTime.MaxValue, DateTimeKind.Utc);
            if (seconds < MinSeconds) return DateTime.SpecifyKind(DateTime.MinValue, DateTimeKind.Utc);
            return new DateTime(Epoch.Ticks + seconds * TimeSpan.TicksPerSecond, DateTimeKind.Utc);
        }

        /// <summary>A DateTime (local times converted) to Unix seconds.</summary>
        internal static long Unix(DateTime t) => Values.UnixSeconds(t);

        /// <summary>An untyped value (the event snapshot) as .NET values; null for NULL.</summary>
        internal static object Any(IntPtr v) => v == IntPtr.Zero ? null : Values.FromNative(v);

        /// <summary>Throws the exception of a failed call (and frees its error).</summary>
        internal static void Check(int status, IntPtr err)
        {
            if (status != 0) throw Errors.FromNative(status, err);
        }

        static readonly Dictionary<Type, MethodInfo> StringOfs = new Dictionary<Type, MethodInfo>();

        /// <summary>The wire name of any enum value: the generated <c>StringOf</c> for XenAPI enums,
        /// the member name otherwise.</summary>
        internal static string EnumName(Enum e)
        {
            Type t = e.GetType();
            MethodInfo m;
            lock (StringOfs)
            {
                if (!StringOfs.TryGetValue(t, out m))
                    StringOfs[t] = m = typeof(EnumExt).GetMethod("StringOf", new[] { t });
            }
            return m != null ? (string)m.Invoke(null, new object[] { e }) : e.ToString();
        }
    }
}
