using System;
using System.Collections.Generic;
using System.Threading;

namespace XenAPI
{
    /// <summary>The server family found at login.</summary>
    public enum Dialect
    {
        /// <summary>xapi (XenServer, XCP-ng): <c>OpaqueRef:</c> references. Also before the first login.</summary>
        Xapi = 0,
        /// <summary>xend (Xen 3.x): UUID references.</summary>
        Xend = 1,
    }

    /// <summary>
    /// A XenAPI session, as XenServer.NET has it:
    /// <code>
    /// var session = new Session("https://xs1");
    /// session.login_with_password("root", password);
    /// foreach (var kv in VM.get_all_records(session)) Console.WriteLine(kv.Value.name_label);
    /// session.logout();
    /// </code>
    /// and in the style of the 2007 talk:
    /// <code>
    /// using (var xen = Session.Connect(new Options("https://xs1") { Fingerprint = pin }, "root", pw))
    ///     foreach (string m in xen.ListMethods()) Console.WriteLine(m);
    /// </code>
    /// Every generated method takes the session first. <see cref="Options"/> has what XenServer.NET's
    /// session lacks: a CA file, a certificate pin, "insecure" by name, timeouts, following the pool
    /// coordinator. Thread-safe: one session may serve any number of threads at once. An expired
    /// session logs in again with the remembered credentials and retries once. Disposing logs out.
    /// As in XenServer.NET, this class is also the record of the datamodel's <c>session</c> class
    /// (generated in Generated/Session.cs): its properties (<c>uuid</c>, <c>this_host</c>,
    /// <c>last_active</c>, ...) are those of a record from <c>Session.get_record(session,
    /// session.opaque_ref)</c>, and the <c>session</c> messages other than the logins and logouts
    /// are its generated static methods (<c>Session.get_this_host(session, session.opaque_ref)</c>).
    /// A record is not a connection: its connection members throw <see cref="InvalidOperationException"/>.
    /// </summary>
    public sealed partial class Session : IDisposable
    {
        readonly SessionHandle handle;
        int disposed;
        /// <summary>This thread's <see cref="WithTimeout"/> views, innermost last.</summary>
        ThreadLocal<Stack<SessionHandle>> views;

        /// <summary>A session for <paramref name="url"/> (<c>https://host</c>, <c>http://host:port</c>,
        /// <c>unix:///path</c>) with default <see cref="Options"/>; nothing is sent before the login.</summary>
        public Session(string url) : this(new Options(url)) { }

        /// <summary>As XenServer.NET: a session whose calls time out after <paramref name="timeout"/> milliseconds.</summary>
        public Session(int timeout, string url) : this(new Options(url) { Timeout = TimeSpan.FromMilliseconds(timeout) }) { }

        /// <summary>As XenServer.NET: <c>https://host:port</c> (<c>http</c> for ports 80 and 8080).</summary>
        public Session(string host, int port) : this(UrlOf(host, port)) { }

        /// <summary>As XenServer.NET: <c>https://host:port</c>, calls timing out after <paramref name="timeout"/> ms.</summary>
        public Session(int timeout, string host, int port) : this(timeout, UrlOf(host, port)) { }

        /// <summary>A session for the server in <paramref name="options"/> (copied); not yet logged in.
        /// Checks the options (URL, CA file, fingerprint) without connecting.</summary>
        public Session(Options options)
        {
            if (options == null) throw new ArgumentNullException(nameof(options));
            using (OptionsHandle o = options.ToNative())
            {
                Check.Ok(NativeMethods.xenapi_session_new(o, out handle, out ErrorHandle err), err);
            }
            Track(options);
        }

        static string UrlOf(string host, int port)
        {
            if (host == null) throw new ArgumentNullException(nameof(host));
            return (port == 80 || port == 8080 ? "http" : "https") + "://" + host + ":" + port;
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
                if (handle == null)
                    throw new InvalidOperationException("this Session is a record of the session class, not a connection");
                if (Volatile.Read(ref disposed) != 0) throw new ObjectDisposedException(nameof(Session));
                var v = Volatile.Read(ref views);
                if (v != null && v.IsValueCreated && v.Value.Count > 0) return v.Value.Peek();
                return handle;
            }
        }

        /// <summary>
        /// Gives the calls this thread makes through this session, until the result is disposed,
        /// a deadline of <paramref name="timeout"/> instead of <see cref="Options.Timeout"/> (other
        /// threads keep theirs); scopes nest:
        /// <code>
        /// using (session.WithTimeout(TimeSpan.FromHours(1)))
        ///     VDI.copy(session, vdi, sr);
        /// </code>
        /// For a synchronous call known to be long; prefer the <c>async_</c> form and its
        /// <c>async_..._wait</c>: a task outlives a dropped connection and can be cancelled.
        /// </summary>
        public IDisposable WithTimeout(TimeSpan timeout)
        {
            if (timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout));
            SessionHandle current = Handle;
            Check.Ok(NativeMethods.xenapi_session_with_timeout(current, timeout.TotalSeconds, out SessionHandle view, out ErrorHandle err), err);
            if (Volatile.Read(ref views) == null)
                Interlocked.CompareExchange(ref views, new ThreadLocal<Stack<SessionHandle>>(() => new Stack<SessionHandle>()), null);
            var stack = views.Value;
            stack.Push(view);
            return new TimeoutScope(stack, view);
        }

        sealed class TimeoutScope : IDisposable
        {
            readonly Stack<SessionHandle> stack;
            readonly SessionHandle view;
            int done;

            internal TimeoutScope(Stack<SessionHandle> stack, SessionHandle view) { this.stack = stack; this.view = view; }

            public void Dispose()
            {
                if (Interlocked.Exchange(ref done, 1) != 0) return;
                if (stack.Count > 0 && ReferenceEquals(stack.Peek(), view)) stack.Pop();
                view.Dispose();
            }
        }

        /// <summary>The most calls this session has in flight at once (<see cref="Options.MaxConcurrentCalls"/>).</summary>
        public int MaxConcurrentCalls => (int)NativeMethods.xenapi_session_get_max_concurrent_calls(Handle);

        /// <summary>The native session of <paramref name="session"/>, for the generated calls.</summary>
        internal static SessionHandle NativeOf(Session session)
        {
            if (session == null) throw new ArgumentNullException(nameof(session));
            return session.Handle;
        }

        // ------------------------------------------------------------------ XenServer.NET's names

        /// <summary><c>session.login_with_password</c>: bad credentials throw <see cref="Failure"/>
        /// <c>SESSION_AUTHENTICATION_FAILED</c>.</summary>
        public void login_with_password(string username, string password) => LoginWithPassword(username, password);

        /// <summary><c>session.login_with_password</c> with the API version to announce.</summary>
        public void login_with_password(string username, string password, string version) => LoginWithPassword(username, password, version);

        /// <summary><c>session.login_with_password</c> with the API version and the originator
        /// (xapi counts sessions per originator).</summary>
        public void login_with_password(string username, string password, string version, string originator) =>
            LoginWithPassword(username, password, version, originator);

        /// <summary><c>session.login_with_password</c> announcing <paramref name="version"/>, as
        /// XenServer.NET's obsolete overload does.</summary>
        [Obsolete("Use login_with_password(string username, string password, string version) instead")]
        public void login_with_password(string username, string password, API_Version version) =>
            LoginWithPassword(username, password, Helper.APIVersionString(version));

        /// <summary>The API version of the pool coordinator this session is logged in to
        /// (<c>host.API_version_major/minor</c>), read on first use after each login;
        /// <see cref="API_Version.LATEST"/> after <see cref="slave_local_login_with_password"/>, as
        /// in XenServer.NET; <see cref="API_Version.UNKNOWN"/> before a login, on xend (no pool) and
        /// for a version this package does not know.</summary>
        public API_Version APIVersion
        {
            get
            {
                int known = Volatile.Read(ref apiVersion);
                if (known != NotRead) return (API_Version)known;
                var read = ReadAPIVersion();
                if (IsLoggedIn) Volatile.Write(ref apiVersion, (int)read);
                return read;
            }
        }

        private const int NotRead = -1;
        private int apiVersion = NotRead;

        private API_Version ReadAPIVersion()
        {
            if (!IsLoggedIn || Dialect != Dialect.Xapi) return API_Version.UNKNOWN;
            try
            {
                var pools = Pool.get_all(this);
                if (pools.Count == 0) return API_Version.UNKNOWN;
                var master = Pool.get_master(this, pools[0].opaque_ref);
                return Helper.GetAPIVersion(Host.get_API_version_major(this, master.opaque_ref),
                    Host.get_API_version_minor(this, master.opaque_ref));
            }
            catch (Failure)
            {
                return API_Version.UNKNOWN;
            }
        }

        /// <summary><c>session.logout</c>.</summary>
        public void logout() => Logout();

        /// <summary><c>session.slave_local_login_with_password</c>: a login to this host's own copy of
        /// the pool database, as xapi allows on a pool member whose coordinator is unreachable
        /// (emergency mode). Never moves to the coordinator and does not log in again when the
        /// session expires. Logs out an earlier login of this object first. xend throws
        /// <see cref="Failure"/> <c>MESSAGE_METHOD_UNKNOWN</c>.</summary>
        public void slave_local_login_with_password(string username, string password)
        {
            if (username == null) throw new ArgumentNullException(nameof(username));
            if (password == null) throw new ArgumentNullException(nameof(password));
            byte[] pw = Utf8.Z(password);
            try
            {
                Volatile.Write(ref apiVersion, NotRead);
                Check.Ok(NativeMethods.xenapi_session_slave_local_login_with_password(Handle, Utf8.Z(username), pw, out ErrorHandle err), err);
                Volatile.Write(ref apiVersion, (int)API_Version.LATEST);
            }
            finally
            {
                Array.Clear(pw, 0, pw.Length);
            }
        }

        /// <summary><c>session.local_logout</c>: ends a session from
        /// <see cref="slave_local_login_with_password"/> (<see cref="logout"/> does the same for such a
        /// session). Logging out twice is harmless.</summary>
        public void local_logout()
        {
            Check.Ok(NativeMethods.xenapi_session_local_logout(Handle, out ErrorHandle err), err);
        }

        /// <summary>On a connection, the session reference (null before the login; it grants access
        /// to the host: do not log it), as XenServer.NET has it; it cannot be set. On a record of
        /// the session class, the reference the caller set, as on every <see cref="XenObject{S}"/>.</summary>
        public override string opaque_ref
        {
            get => handle == null ? base.opaque_ref : (IsLoggedIn ? SessionRef : null);
            set
            {
                if (handle != null)
                    throw new InvalidOperationException("the reference of a connection comes from its login");
                base.opaque_ref = value;
            }
        }

        /// <summary>The URL calls go to (the coordinator's, after a redirect).</summary>
        public string Url
        {
            get
            {
                Check.Ok(NativeMethods.xenapi_session_get_url(Handle, out NativeStringHandle s, out ErrorHandle err), err);
                using (s) return s.Read();
            }
        }

        // ------------------------------------------------------------------ the talk's names

        /// <summary><c>session.login_with_password</c>. Logs out an earlier login of this object first.
        /// <paramref name="version"/> and <paramref name="originator"/> default to those of the
        /// <see cref="Options"/>.</summary>
        public void LoginWithPassword(string user, string password, string version = null, string originator = null)
        {
            if (user == null) throw new ArgumentNullException(nameof(user));
            if (password == null) throw new ArgumentNullException(nameof(password));
            byte[] pw = Utf8.Z(password);
            try
            {
                Volatile.Write(ref apiVersion, NotRead);
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
            Volatile.Write(ref apiVersion, NotRead);
            Check.Ok(NativeMethods.xenapi_session_logout(Handle, out ErrorHandle err), err);
        }

        /// <summary>Every method the server offers (<c>host.list_methods</c>).</summary>
        public string[] ListMethods() => Host.list_methods(this);

        /// <summary>Whether the session is logged in.</summary>
        public bool IsLoggedIn => handle != null && Volatile.Read(ref disposed) == 0 && NativeMethods.xenapi_session_is_logged_in(handle);

        /// <summary>The server family found at login (xapi before any login).</summary>
        public Dialect Dialect => (Dialect)NativeMethods.xenapi_session_get_dialect(Handle);

        /// <summary>The wire protocol calls go over (<see cref="XenAPI.Protocol.Auto"/> before a
        /// login has found out).</summary>
        public Protocol Protocol => (Protocol)NativeMethods.xenapi_session_get_protocol(Handle);

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
        /// A server failure throws <see cref="Failure"/> (<c>MESSAGE_METHOD_UNKNOWN</c> for a method the server lacks).
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
                // A view only when there is a current Activity to send as the traceparent.
                using (var call = CallView.Open(this, CancellationToken.None))
                {
                    Check.Ok(NativeMethods.xenapi_session_call(call.Handle, Utf8.Z(method), raw, (UIntPtr)raw.Length, out ValueHandle result, out ErrorHandle err), err);
                    using (result)
                        return Values.FromNative(result.DangerousGetHandle());
                }
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

        /// <summary>
        /// Waits for a task (what the generated <c>async_</c> methods return) to finish and returns its
        /// result as .NET values (see <see cref="Call"/>; "" for a void method); the generated
        /// <c>async_..._wait</c> methods (<c>VM.async_clone_wait</c>) give it typed. The wait follows
        /// the task through <c>event.from</c> (polling on xend) and destroys it when it ends. A
        /// failed task throws <see cref="Failure"/> with the task's error; a cancelled one
        /// <c>TASK_CANCELLED</c>. When <paramref name="timeout"/> passes (null: no limit), or
        /// <paramref name="cancellationToken"/> is cancelled, the task is cancelled and destroyed
        /// and <see cref="XenApiTimeoutException"/> (or <see cref="Failure"/> <c>TASK_CANCELLED</c>)
        /// is thrown.
        /// </summary>
        public object WaitForTask(string task, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        {
            if (task == null) throw new ArgumentNullException(nameof(task));
            Status st;
            ValueHandle result;
            ErrorHandle err;
            using (var cancel = new NativeCancel(cancellationToken))
                st = NativeMethods.xenapi_task_wait_cancellable(Handle, Utf8.Z(task), NativeCancel.Seconds(timeout), cancel.Handle, out result, out err);
            Check.Ok(st, err);
            using (result) return Values.FromNative(result.DangerousGetHandle());
        }

        /// <summary>The libxenapi version, e.g. "0.2.0".</summary>
        public static string NativeVersion => Utf8.Read(NativeMethods.xenapi_version());

        /// <summary>Logs out (waiting at most 5 s for the server) and frees the native session. Calls
        /// still running on other threads finish first. Safe to call more than once; never throws.</summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) != 0) return;
            handle?.Dispose();
        }
    }

    /// <summary>A libxenapi cancel request (<c>xenapi_cancel</c>) that a
    /// <see cref="CancellationToken"/> cancels, for the length of one wait.</summary>
    internal sealed class NativeCancel : IDisposable
    {
        CancellationTokenRegistration registration;
        IntPtr handle;

        internal NativeCancel(CancellationToken token)
        {
            if (!token.CanBeCanceled) return;
            handle = NativeMethods.xenapi_cancel_new();
            IntPtr h = handle;
            registration = token.Register(() => NativeMethods.xenapi_cancel_cancel(h));
        }

        /// <summary>The request, or IntPtr.Zero when the token can never be cancelled.</summary>
        internal IntPtr Handle => handle;

        /// <summary>A wait's seconds for libxenapi: 0 (no limit) for null.</summary>
        internal static double Seconds(TimeSpan? timeout) =>
            timeout.HasValue ? Math.Max(timeout.Value.TotalSeconds, 0.001) : 0;

        public void Dispose()
        {
            // Unregistering waits for a callback that is running: the request outlives it.
            registration.Dispose();
            if (handle != IntPtr.Zero) NativeMethods.xenapi_cancel_free(handle);
            handle = IntPtr.Zero;
        }
    }
}
