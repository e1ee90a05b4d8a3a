using System;
using System.Text;

namespace XenAPI
{
    /// <summary>
    /// Strings across the C ABI are NUL-terminated UTF-8 on every platform. The marshaller's
    /// <c>LPStr</c> means the ANSI code page on .NET Framework for Windows, so strings are
    /// converted here instead, the same way everywhere.
    /// </summary>
    internal static class Utf8
    {
        static readonly UTF8Encoding Strict = new UTF8Encoding(false, false);

        /// <summary>A NUL-terminated UTF-8 copy of <paramref name="s"/> to pass to C; null stays null.</summary>
        internal static byte[] Z(string s)
        {
            if (s == null) return null;
            int n = Strict.GetByteCount(s);
            var bytes = new byte[n + 1];
            Strict.GetBytes(s, 0, s.Length, bytes, 0);
            return bytes;
        }

        /// <summary>The string at <paramref name="p"/> (borrowed, NUL-terminated UTF-8); null for NULL.</summary>
        internal static unsafe string Read(IntPtr p)
        {
            if (p == IntPtr.Zero) return null;
            byte* b = (byte*)p;
            int n = 0;
            while (b[n] != 0) n++;
            if (n == 0) return string.Empty;
            return Strict.GetString(b, n);
        }

        /// <summary>Reads a string of known length (no NUL needed).</summary>
        internal static unsafe string Read(IntPtr p, int length)
        {
            if (p == IntPtr.Zero) return null;
            if (length == 0) return string.Empty;
            return Strict.GetString((byte*)p, length);
        }
    }
}
