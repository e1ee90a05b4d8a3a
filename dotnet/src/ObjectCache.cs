using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;

namespace XenAPI
{
    /// <summary>What a <see cref="CacheChange"/> did.</summary>
    public enum CacheChangeKind
    {
        /// <summary>A new object; <see cref="CacheChange.Record"/> is its first record.</summary>
        Add = 0,
        /// <summary>An object changed; the record is the new one.</summary>
        Mod = 1,
        /// <summary>An object went away; the record is its last, when known.</summary>
        Del = 2,
        /// <summary>The cache read everything again (after <c>EVENTS_LOST</c>, a refused token, a lost
        /// xend registration): read it again. No class, reference or record.</summary>
        Refetched = 3,
        /// <summary>Changes were dropped because nobody read them in time (the queue is bounded):
        /// read the cache again. No class, reference or record.</summary>
        Missed = 4,
    }

    /// <summary>One change to an <see cref="ObjectCache"/>.</summary>
    public sealed class CacheChange
    {
        /// <summary>What happened.</summary>
        public CacheChangeKind Kind { get; }
        /// <summary>The class as the datamodel names it (<c>VM</c>, <c>host</c>), or "".</summary>
        public string Class { get; }
        /// <summary>The object's reference, or "".</summary>
        public string OpaqueRef { get; }
        /// <summary>The record after the change (for <c>Del</c>, the last one) as its record class
        /// (<see cref="VM"/>, <see cref="Host"/>, ...), or null.</summary>
        public object Record { get; }

        internal CacheChange(CacheChangeKind kind, string cls, string opaqueRef, object record)
        {
            Kind = kind;
            Class = cls;
            OpaqueRef = opaqueRef;
            Record = record;
        }

        /// <summary>The record as <typeparamref name="T"/>, or null (no record, or another class).</summary>
        public T RecordAs<T>() where T : XenObject<T> => Record as T;

        /// <inheritdoc/>
        public override string ToString() => Kind + " " + Class + " " + OpaqueRef;
    }

    /// <summary>How an <see cref="ObjectCache"/> follows the server.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct CacheStats
    {
        /// <summary>Successful polls since the fill.</summary>
        public ulong Polls;
        /// <summary>Changes applied since the fill.</summary>
        public ulong Events;
        /// <summary>Times everything was read again.</summary>
        public ulong Refetches;
        /// <summary>Failed polls (each followed by a backoff and a new try).</summary>
        public ulong Errors;
        byte connected;
        /// <summary>Whether the last poll succeeded.</summary>
        public bool Connected => connected != 0;
    }

    /// <summary>
    /// A live mirror of the pool's objects of some classes, in libxenapi (the Rust core): filled from
    /// the server when made, then kept current by a background thread following <c>event.from</c>
    /// (xend: <c>event.register</c>/<c>event.next</c>). Reads make no server call:
    /// <c>cache.Records&lt;VM&gt;()</c> gives <c>XenRef&lt;VM&gt;</c> to <see cref="VM"/>.
    /// <see cref="NextChange"/> blocks for the next change. Lost events and refused tokens are
    /// recovered by reading everything again (a <see cref="CacheChangeKind.Refetched"/> change), an
    /// expired session by logging in again, a dropped connection by reconnecting with backoff.
    /// Thread-safe; <see cref="Dispose"/> stops following promptly.
    /// </summary>
    public sealed class ObjectCache : IDisposable
    {
        readonly CacheHandle handle;
        readonly string[] classes;

        static readonly Dictionary<string, RecordClasses.Entry> ByName = MakeByName();

        static Dictionary<string, RecordClasses.Entry> MakeByName()
        {
            var d = new Dictionary<string, RecordClasses.Entry>(StringComparer.OrdinalIgnoreCase);
            foreach (var e in RecordClasses.ByType.Values) d[e.Name] = e;
            return d;
        }

        /// <summary>A cache of <paramref name="classes"/> (datamodel names: <c>"VM"</c>, <c>"host"</c>;
        /// none for every class, on xapi) over <paramref name="session"/>; returns once every object is
        /// read. The server may hold each poll 30 s.</summary>
        public ObjectCache(Session session, params string[] classes) : this(session, TimeSpan.FromSeconds(30), classes) { }

        /// <summary>As <see cref="ObjectCache(Session, string[])"/>, the server holding each poll at
        /// most <paramref name="pollTimeout"/> (shorter than the session's timeout).</summary>
        public ObjectCache(Session session, TimeSpan pollTimeout, params string[] classes)
        {
            this.classes = classes ?? new string[0];
            var names = new IntPtr[this.classes.Length];
            try
            {
                for (int i = 0; i < names.Length; i++)
                {
                    byte[] z = Utf8.Z(this.classes[i] ?? throw new ArgumentNullException(nameof(classes)));
                    names[i] = Marshal.AllocHGlobal(z.Length);
                    Marshal.Copy(z, 0, names[i], z.Length);
                }
                Check.Ok(NativeMethods.xenapi_cache_new_with_options(Session.NativeOf(session), names,
                    (UIntPtr)names.Length, pollTimeout.TotalSeconds, (UIntPtr)10000, out handle, out ErrorHandle err), err);
            }
            finally
            {
                foreach (IntPtr p in names)
                    if (p != IntPtr.Zero) Marshal.FreeHGlobal(p);
            }
        }

        static RecordClasses.Entry EntryOf<T>()
        {
            if (!RecordClasses.ByType.TryGetValue(typeof(T), out RecordClasses.Entry e))
                throw new ArgumentException(typeof(T).Name + " is not a record class the cache can hold");
            return e;
        }

        /// <summary>The references of the cached objects of <paramref name="cls"/>, sorted.</summary>
        public List<string> Refs(string cls)
        {
            Check.Ok(NativeMethods.xenapi_cache_refs(handle, Utf8.Z(cls), out StringListHandle list, out ErrorHandle err), err);
            return CacheSnapshot.ReadList(list);
        }

        /// <summary>The cached record of <paramref name="opaqueRef"/>, or null when not cached.</summary>
        public T Get<T>(XenRef<T> opaqueRef) where T : XenObject<T>
        {
            if (opaqueRef == null) throw new ArgumentNullException(nameof(opaqueRef));
            var e = EntryOf<T>();
            Check.Ok(NativeMethods.xenapi_cache_get(handle, Utf8.Z(e.Name), Utf8.Z(opaqueRef.opaque_ref), out ValueHandle v, out ErrorHandle err), err);
            return (T)CacheSnapshot.ReadRecord(e, v, opaqueRef.opaque_ref);
        }

        /// <summary>Every cached object of class <typeparamref name="T"/> at one moment:
        /// <c>Records&lt;VM&gt;()</c>. For several classes seen together, use one
        /// <see cref="Snapshot"/>.</summary>
        public Dictionary<XenRef<T>, T> Records<T>() where T : XenObject<T>
        {
            using (var snapshot = Snapshot()) return snapshot.Records<T>();
        }

        /// <summary>The cache at this moment, consistent across objects and classes; later changes
        /// do not alter it. Cheap: the records are shared until read.</summary>
        public CacheSnapshot Snapshot()
        {
            Check.Ok(NativeMethods.xenapi_cache_take_snapshot(handle, out CacheSnapshotHandle snap, out ErrorHandle err), err);
            return new CacheSnapshot(snap);
        }

        internal static RecordClasses.Entry Entry<T>() => EntryOf<T>();

        /// <summary>The next change since the cache was full, waiting at most <paramref name="timeout"/>
        /// (<see cref="Timeout.InfiniteTimeSpan"/>: until closed); null when none came or the cache is
        /// closed. Read the changes from one thread.</summary>
        public CacheChange NextChange(TimeSpan timeout)
        {
            long ms = timeout == Timeout.InfiniteTimeSpan ? -1 : (long)Math.Max(0, timeout.TotalMilliseconds);
            Check.Ok(NativeMethods.xenapi_cache_next_change(handle, ms, out CacheChangeHandle c, out ErrorHandle err), err);
            using (c)
            {
                if (c.IsInvalid) return null;
                var kind = (CacheChangeKind)NativeMethods.xenapi_cache_change_kind(c);
                string cls = Utf8.Read(NativeMethods.xenapi_cache_change_class(c));
                string r = Utf8.Read(NativeMethods.xenapi_cache_change_ref(c));
                object record = null;
                IntPtr v = NativeMethods.xenapi_cache_change_record(c);
                if (v != IntPtr.Zero && ByName.TryGetValue(cls, out RecordClasses.Entry e))
                {
                    record = e.Read(v);
                    if (record is IHasOpaqueRef h) h.SetRef(r);
                }
                return new CacheChange(kind, cls, r, record);
            }
        }

        /// <summary>The classes asked for.</summary>
        public IReadOnlyList<string> Classes => classes;

        /// <summary>How the following goes: polls, changes applied, refetches, errors.</summary>
        public CacheStats Status => NativeMethods.xenapi_cache_status(handle);

        /// <summary>Whether the cache was closed.</summary>
        public bool IsClosed => handle.IsClosed || NativeMethods.xenapi_cache_is_closed(handle);

        /// <summary>Stops following (promptly); reads still see the last state until disposed.</summary>
        public void Close()
        {
            if (!handle.IsClosed) NativeMethods.xenapi_cache_close(handle);
        }

        /// <summary>Stops following and frees the cache.</summary>
        public void Dispose() => handle.Dispose();
    }

    /// <summary>Records whose reference the cache sets.</summary>
    internal interface IHasOpaqueRef
    {
        void SetRef(string opaqueRef);
    }

    /// <summary>
    /// The cache at one moment (<see cref="ObjectCache.Snapshot"/>): reads make no server call, and
    /// every object is as it was when the snapshot was taken, whatever the cache applied since.
    /// </summary>
    public sealed class CacheSnapshot : IDisposable
    {
        readonly CacheSnapshotHandle handle;

        internal CacheSnapshot(CacheSnapshotHandle handle) { this.handle = handle; }

        /// <summary>The references of the objects of <paramref name="cls"/>, sorted.</summary>
        public List<string> Refs(string cls)
        {
            Check.Ok(NativeMethods.xenapi_cache_snapshot_refs(handle, Utf8.Z(cls), out StringListHandle list, out ErrorHandle err), err);
            return ReadList(list);
        }

        /// <summary>The record of <paramref name="opaqueRef"/>, or null when it was not cached.</summary>
        public T Get<T>(XenRef<T> opaqueRef) where T : XenObject<T>
        {
            if (opaqueRef == null) throw new ArgumentNullException(nameof(opaqueRef));
            return (T)Read(ObjectCache.Entry<T>(), opaqueRef.opaque_ref);
        }

        /// <summary>Every object of class <typeparamref name="T"/>.</summary>
        public Dictionary<XenRef<T>, T> Records<T>() where T : XenObject<T>
        {
            var e = ObjectCache.Entry<T>();
            var result = new Dictionary<XenRef<T>, T>();
            foreach (string r in Refs(e.Name))
            {
                var record = (T)Read(e, r);
                record.opaque_ref = r;
                result[new XenRef<T>(r)] = record;
            }
            return result;
        }

        /// <summary>Frees the snapshot.</summary>
        public void Dispose() => handle.Dispose();

        object Read(RecordClasses.Entry e, string opaqueRef)
        {
            Check.Ok(NativeMethods.xenapi_cache_snapshot_get(handle, Utf8.Z(e.Name), Utf8.Z(opaqueRef), out ValueHandle v, out ErrorHandle err), err);
            return ReadRecord(e, v, opaqueRef);
        }

        internal static object ReadRecord(RecordClasses.Entry e, ValueHandle v, string opaqueRef)
        {
            using (v)
            {
                if (v.IsInvalid) return null;
                bool added = false;
                v.DangerousAddRef(ref added);
                try
                {
                    object record = e.Read(v.DangerousGetHandle());
                    if (record is IHasOpaqueRef r) r.SetRef(opaqueRef);
                    return record;
                }
                finally
                {
                    if (added) v.DangerousRelease();
                }
            }
        }

        internal static List<string> ReadList(StringListHandle list)
        {
            using (list)
            {
                int n = (int)NativeMethods.xenapi_string_list_len(list);
                var refs = new List<string>(n);
                for (int i = 0; i < n; i++)
                    refs.Add(Utf8.Read(NativeMethods.xenapi_string_list_get(list, (UIntPtr)i)));
                return refs;
            }
        }
    }
}
