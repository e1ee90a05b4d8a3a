using System;
using System.Collections;
using System.Collections.Generic;

namespace XenAPI
{
    /// <summary>XenServer.NET's comparison and reference helpers, which programs written for it
    /// call (and the generated records use for change notification and
    /// <c>DeepEquals</c>).</summary>
    public static partial class Helper
    {
        /// <summary>The null reference: what a reference field holds when it points nowhere.</summary>
        public const string NullOpaqueRef = "OpaqueRef:NULL";

        /// <summary>Whether <paramref name="opaqueRef"/> is null, empty or the null reference
        /// (in any case).</summary>
        public static bool IsNullOrEmptyOpaqueRef(string opaqueRef) =>
            string.IsNullOrEmpty(opaqueRef) || string.Equals(opaqueRef, NullOpaqueRef, StringComparison.OrdinalIgnoreCase);

        /// <summary>Whether two values are equal: dictionaries by their entries, other collections
        /// element by element in order, anything else by <c>Equals</c>; two nulls are equal.</summary>
        public static bool AreEqual(object o1, object o2)
        {
            if (o1 == null || o2 == null) return o1 == null && o2 == null;
            if (o1 is IDictionary d1) return o2 is IDictionary d2 && SameEntries(d1, d2);
            if (o1 is ICollection c1) return o2 is ICollection c2 && SameElements(c1, c2);
            return o1.Equals(o2);
        }

        /// <summary>As <see cref="AreEqual"/>, except that null and an empty collection are equal.</summary>
        public static bool AreEqual2<T>(T o1, T o2)
        {
            if (o1 == null && o2 == null) return true;
            if (o1 == null) return IsEmpty(o2);
            if (o2 == null) return IsEmpty(o1);
            return AreEqual(o1, o2);
        }

        /// <summary>Whether two dictionaries hold the same keys with <c>Equals</c> values; two
        /// nulls are equal.</summary>
        public static bool DictEquals<K, V>(Dictionary<K, V> d1, Dictionary<K, V> d2)
        {
            if (d1 == null || d2 == null) return d1 == null && d2 == null;
            if (d1.Count != d2.Count) return false;
            foreach (var entry in d1)
            {
                if (!d2.TryGetValue(entry.Key, out V other)) return false;
                if (entry.Value == null ? other != null : !entry.Value.Equals(other)) return false;
            }
            return true;
        }

        static bool IsEmpty(object o) => o is ICollection c && c.Count == 0;

        static bool SameEntries(IDictionary d1, IDictionary d2)
        {
            if (d1.Count != d2.Count) return false;
            foreach (DictionaryEntry entry in d1)
                if (!d2.Contains(entry.Key) || !AreEqual(entry.Value, d2[entry.Key])) return false;
            return true;
        }

        static bool SameElements(ICollection c1, ICollection c2)
        {
            if (c1.Count != c2.Count) return false;
            IEnumerator e1 = c1.GetEnumerator(), e2 = c2.GetEnumerator();
            while (e1.MoveNext() && e2.MoveNext())
                if (!AreEqual(e1.Current, e2.Current)) return false;
            return true;
        }
    }
}
