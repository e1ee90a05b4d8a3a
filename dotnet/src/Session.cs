using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;

namespace XenApi
{
    /// <summary>
    /// A XenAPI session, in the style of the 2007 talk's <c>IXenAPI</c>:
    /// <code>
    /// var xen = new Session("http://127.0.0.1:9363");
    /// xen.LoginWithPassword("root", "password");
    /// string[] methods = xen.ListMethods();
    /// xen.Logout();
    /// </code>
    /// or with <c>using</c>, which logs out and frees the native session on <see cref="Dispose"/>:
    /// <code>
    /// using (var xen = Session.Connect(new Options("https://xs1") { Fingerprint = pin }, "root", pw))
    ///     foreach (var r in xen.GetAllVMRecords()) Console.WriteLine(r.NameLabel + " " + r.PowerState);
    /// </code>
    /// Thread-safe: one session may serve any number of threads at once (calls run concurrently over
    /// a connection pool in libxenapi). An expired session logs in again with the remembered
    /// credentials and retries once; a login on a pool member follows the coordinator unless
    /// <see cref="Options.FollowCoordinator"/> is off.
    /// </summary>
    public sealed class Session : IDisposable
    {
        readonly SessionHandle handle;
        int disposed;

        /// <summary>A session for <paramref name="url"/> with default <see cref="Options"/>; not yet
        /// logged in, and nothing is sent until <see cref="LoginWithPassword"/>.</summary>
        public Session(string url) : this(new Options(url)) { }

        /// <summary>A session for the server in <paramref name="options"/> (copied); not yet logged in.
        /// Checks the options (URL, CA file, fingerprint) without connecting.</summary>
        public Session(Options options)
        {
            if (options == null) throw new ArgumentNullException(nameof(options));
            using (OptionsHandle o = options.ToNative())
            {
                Check.Ok(NativeMethods.xenapi_session_new(o, out handle, out ErrorHandle err), err);
            }
        }

        /// <summary>Creates a session and logs in; on failure nothing is left open.</summary>
        public static Session Connect(Options options, string user, string password)
        {
            var s = new Session(options);
            try
            {
                s.LoginWithPassword(user, password);
                return s;
            }
            catch
            {
                s.Dispose();
                throw;
            }
        }

        /// <summary>Creates a session for <paramref name="url"/> and logs in.</summary>
        public static Session Connect(string url, string user, string password) => Connect(new Options(url), user, password);

        internal SessionHandle Handle
        {
            get
            {
                if (Volatile.Read(ref disposed) != 0) throw new ObjectDisposedException(nameof(Session));
                return handle;
            }
        }

        /// <summary><c>session.login_with_password</c>. Logs out an earlier login of this object first.
        /// <paramref name="version"/> and <paramref name="originator"/> default to those of the
        /// <see cref="Options"/>. Bad credentials throw <see cref="XenApiException"/> with code
        /// <c>SESSION_AUTHENTICATION_FAILED</c>.</summary>
        public void LoginWithPassword(string user, string password, string version = null, string originator = null)
        {
            if (user == null) throw new ArgumentNullException(nameof(user));
            if (password == null) throw new ArgumentNullException(nameof(password));
            byte[] pw = Utf8.Z(password);
            try
            {
                Check.Ok(NativeMethods.xenapi_session_login_with_password(Handle, Utf8.Z(user), pw, Utf8.Z(version), Utf8.Z(originator), out ErrorHandle err), err);
            }
            finally
            {
                Array.Clear(pw, 0, pw.Length);
            }
        }

        /// <summary><c>session.logout</c>. Calls then fail until the next login; logging out twice is harmless.</summary>
        public void Logout()
        {
            Check.Ok(NativeMethods.xenapi_session_logout(Handle, out ErrorHandle err), err);
        }

        /// <summary>Whether the session is logged in.</summary>
        public bool IsLoggedIn => Volatile.Read(ref disposed) == 0 && NativeMethods.xenapi_session_is_logged_in(handle);

        /// <summary>The server family found at login (xapi before any login).</summary>
        public Dialect Dialect => (Dialect)NativeMethods.xenapi_session_get_dialect(Handle);

        /// <summary>The URL calls go to (the coordinator's, after a redirect).</summary>
        public string Url
        {
            get
            {
                Check.Ok(NativeMethods.xenapi_session_get_url(Handle, out NativeStringHandle s, out ErrorHandle err), err);
                using (s) return s.Read();
            }
        }

        /// <summary>The session reference, for code that builds its own requests. It grants access to
        /// the host: do not log it.</summary>
        public string SessionRef
        {
            get
            {
                Check.Ok(NativeMethods.xenapi_session_get_reference(Handle, out NativeStringHandle s, out ErrorHandle err), err);
                using (s) return s.Read();
            }
        }

        /// <summary>
        /// Calls any XenAPI method with the session reference first, then <paramref name="args"/>,
        /// and returns the reply's value as .NET values: string (also refs, enums and int64s, which
        /// travel as strings), long, bool, double, DateTime (UTC), byte[], object[],
        /// Dictionary&lt;string, object&gt;, or null. A void method returns "".
        /// <code>var records = (Dictionary&lt;string, object&gt;)xen.Call("VM.get_all_records");</code>
        /// A server failure throws <see cref="XenApiException"/> with the XenAPI code
        /// (<c>MESSAGE_METHOD_UNKNOWN</c> for a method the server lacks).
        /// </summary>
        public object Call(string method, params object[] args)
        {
            if (method == null) throw new ArgumentNullException(nameof(method));
            if (args == null) args = new object[0];
            var raw = new IntPtr[args.Length];
            try
            {
                for (int i = 0; i < args.Length; i++)
                    raw[i] = Values.ToNative(args[i]);
                Check.Ok(NativeMethods.xenapi_session_call(Handle, Utf8.Z(method), raw, (UIntPtr)raw.Length, out ValueHandle result, out ErrorHandle err), err);
                using (result)
                    return Values.FromNative(result.DangerousGetHandle());
            }
            finally
            {
                foreach (IntPtr p in raw)
                    if (p != IntPtr.Zero) NativeMethods.xenapi_value_free(p);
            }
        }

        /// <summary><see cref="Call"/> with the result converted to <typeparamref name="T"/>
        /// (a cast; object[] to string[] and the like are converted element by element).</summary>
        public T Call<T>(string method, params object[] args) => Convert<T>(Call(method, args));

        internal static T Convert<T>(object o)
        {
            if (o is T t) return t;
            if (o is object[] a && typeof(T).IsArray)
            {
                Type e = typeof(T).GetElementType();
                Array r = Array.CreateInstance(e, a.Length);
                for (int i = 0; i < a.Length; i++) r.SetValue(a[i], i);
                return (T)(object)r;
            }
            throw new XenApiException(ErrorKind.Protocol, "expected a " + typeof(T).Name + " in the reply, got " + (o?.GetType().Name ?? "nil"));
        }

        // ------------------------------------------------------------------ the talk's operations

        /// <summary>Every method the server offers (<c>host.list_methods</c>).</summary>
        public string[] ListMethods()
        {
            Check.Ok(NativeMethods.xenapi_host_list_methods(Handle, out StringListHandle l, out ErrorHandle err), err);
            return ReadList(l);
        }

        /// <summary>Every VM with its record (<c>VM.get_all_records</c>; templates and the control
        /// domain included), in the server's order.</summary>
        public VMRecord[] GetAllVMRecords()
        {
            Check.Ok(NativeMethods.xenapi_vm_get_all_records(Handle, out VmListHandle l, out ErrorHandle err), err);
            return VMRecord.FromList(this, l);
        }

        /// <summary>The VMs named <paramref name="label"/> (<c>VM.get_by_name_label</c>); empty if none.</summary>
        public VM[] GetVMsByNameLabel(string label)
        {
            if (label == null) throw new ArgumentNullException(nameof(label));
            Check.Ok(NativeMethods.xenapi_vm_get_by_name_label(Handle, Utf8.Z(label), out StringListHandle l, out ErrorHandle err), err);
            string[] refs = ReadList(l);
            var vms = new VM[refs.Length];
            for (int i = 0; i < refs.Length; i++) vms[i] = new VM(this, refs[i]);
            return vms;
        }

        /// <summary>The VM of this reference (nothing is sent; a bad one fails at its first use with
        /// <c>HANDLE_INVALID</c>).</summary>
        public VM GetVM(string reference) => new VM(this, reference);

        /// <summary>Every host (<c>host.get_all</c>): one for a single server.</summary>
        public Host[] GetHosts()
        {
            Check.Ok(NativeMethods.xenapi_host_get_all(Handle, out StringListHandle l, out ErrorHandle err), err);
            string[] refs = ReadList(l);
            var hosts = new Host[refs.Length];
            for (int i = 0; i < refs.Length; i++) hosts[i] = new Host(this, refs[i]);
            return hosts;
        }

        /// <summary>The host of this reference.</summary>
        public Host GetHost(string reference) => new Host(this, reference);

        /// <summary>The first host (<c>host.get_all</c>), the one a single server has.</summary>
        public Host Host
        {
            get
            {
                Host[] all = GetHosts();
                if (all.Length == 0) throw new XenApiException(ErrorKind.Protocol, "the server lists no host");
                return all[0];
            }
        }


        // ------------------------------------------------------------------ tasks and events

        /// <summary>Calls <c>Async.</c><paramref name="method"/> (e.g. <c>"VM.clone"</c>) and returns its
        /// task; <see cref="XenTask.Wait"/> gives the result.</summary>
        public XenTask Async(string method, params object[] args)
        {
            if (method == null) throw new ArgumentNullException(nameof(method));
            return new XenTask(this, Call<string>("Async." + method, args));
        }

        /// <summary>The task of this reference.</summary>
        public XenTask GetTask(string reference) => new XenTask(this, reference);

        /// <summary>
        /// Waits up to <paramref name="timeout"/> for changes to objects of <paramref name="classes"/>
        /// (e.g. "vm", "task"; "*" for all) after <paramref name="token"/> ("" the first time), with
        /// <c>event.from</c>. Pass the batch's <see cref="EventBatch.Token"/> to the next call.
        /// </summary>
        public EventBatch EventFrom(string[] classes, string token, TimeSpan timeout)
        {
            if (classes == null) throw new ArgumentNullException(nameof(classes));
            var raw = new IntPtr[classes.Length];
            try
            {
                for (int i = 0; i < classes.Length; i++)
                {
                    byte[] z = Utf8.Z(classes[i] ?? throw new ArgumentNullException(nameof(classes)));
                    raw[i] = Marshal.AllocHGlobal(z.Length);
                    Marshal.Copy(z, 0, raw[i], z.Length);
                }
                double secs = Math.Max(0, timeout.TotalSeconds);
                Check.Ok(NativeMethods.xenapi_event_from(Handle, raw, (UIntPtr)raw.Length, Utf8.Z(token ?? ""), secs, out ValueHandle result, out ErrorHandle err), err);
                using (result)
                {
                    var d = Values.FromNative(result.DangerousGetHandle()) as Dictionary<string, object>;
                    if (d == null) throw new XenApiException(ErrorKind.Protocol, "event.from did not return a struct");
                    return new EventBatch(d);
                }
            }
            finally
            {
                foreach (IntPtr p in raw) if (p != IntPtr.Zero) Marshal.FreeHGlobal(p);
            }
        }

        internal static string[] ReadList(StringListHandle l)
        {
            using (l)
            {
                int n = (int)NativeMethods.xenapi_string_list_len(l);
                var r = new string[n];
                for (int i = 0; i < n; i++) r[i] = Utf8.Read(NativeMethods.xenapi_string_list_get(l, (UIntPtr)i));
                return r;
            }
        }

        /// <summary>The libxenapi version, e.g. "0.1.0".</summary>
        public static string NativeVersion => Utf8.Read(NativeMethods.xenapi_version());

        /// <summary>Logs out (waiting at most 5 s for the server) and frees the native session. Calls
        /// still running on other threads finish first. Safe to call more than once; never throws.</summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) != 0) return;
            handle?.Dispose();
        }
    }
}
