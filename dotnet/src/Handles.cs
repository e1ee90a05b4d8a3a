using System;
using System.Runtime.InteropServices;

namespace XenAPI
{
    // One SafeHandle per native handle type of libxenapi. Each frees its object exactly once, with
    // the matching xenapi_*_free, when disposed or finalized; P/Invoke adds a reference for the
    // length of every call it is passed to, so a Dispose racing a call cannot free it under the call.

    /// <summary>Base of the handles: NULL is invalid.</summary>
    internal abstract class NativeHandle : SafeHandle
    {
        protected NativeHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid => handle == IntPtr.Zero;
    }

    /// <summary><c>xenapi_error *</c>.</summary>
    internal sealed class ErrorHandle : NativeHandle
    {
        protected override bool ReleaseHandle() { NativeMethods.xenapi_error_free(handle); return true; }
    }

    /// <summary><c>xenapi_options *</c>.</summary>
    internal sealed class OptionsHandle : NativeHandle
    {
        protected override bool ReleaseHandle() { NativeMethods.xenapi_options_free(handle); return true; }
    }

    /// <summary><c>xenapi_string_list *</c>.</summary>
    internal sealed class StringListHandle : NativeHandle
    {
        protected override bool ReleaseHandle() { NativeMethods.xenapi_string_list_free(handle); return true; }
    }

    /// <summary>An owned <c>char *</c> that libxenapi returned.</summary>
    internal sealed class NativeStringHandle : NativeHandle
    {
        protected override bool ReleaseHandle() { NativeMethods.xenapi_string_free(handle); return true; }
        internal string Read() => Utf8.Read(handle);
    }
}

namespace XenAPI
{
    /// <summary><c>xenapi_session *</c>: freeing it logs out (at most 5 s) if still logged in.</summary>
    internal sealed class SessionHandle : NativeHandle
    {
        protected override bool ReleaseHandle() { NativeMethods.xenapi_session_free(handle); return true; }
    }

    /// <summary>An owned <c>xenapi_value *</c> (a reply, or an argument being built). Elements of an
    /// array or struct are borrowed from it and read as plain pointers while it is alive.</summary>
    internal sealed class ValueHandle : NativeHandle
    {
        internal ValueHandle() { }
        internal ValueHandle(IntPtr owned) { SetHandle(owned); }
        protected override bool ReleaseHandle() { NativeMethods.xenapi_value_free(handle); return true; }
    }
}

namespace XenAPI
{
    /// <summary><c>xenapi_cache *</c>: freeing it stops the cache's thread.</summary>
    internal sealed class CacheHandle : NativeHandle
    {
        protected override bool ReleaseHandle() { NativeMethods.xenapi_cache_free(handle); return true; }
    }

    /// <summary><c>xenapi_cache_snapshot *</c>.</summary>
    internal sealed class CacheSnapshotHandle : NativeHandle
    {
        protected override bool ReleaseHandle() { NativeMethods.xenapi_cache_snapshot_free(handle); return true; }
    }

    /// <summary><c>xenapi_cache_change *</c>.</summary>
    internal sealed class CacheChangeHandle : NativeHandle
    {
        protected override bool ReleaseHandle() { NativeMethods.xenapi_cache_change_free(handle); return true; }
    }
}
