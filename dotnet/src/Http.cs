using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Security;
using System.Runtime.Serialization;
using System.Text;
using System.Threading;

namespace XenAPI
{
    /// <summary>
    /// XenServer.NET's <c>HTTP</c> class: the delegates, exceptions and helpers programs written
    /// for XenServer.NET use with <see cref="HTTP_actions"/>, over libxenapi's transfers (no HTTP
    /// is spoken in C#: the core streams, follows 302s, sends the query as given).
    /// <para><b>Where a request goes, and under which TLS policy.</b> <see cref="BuildUri"/> makes
    /// <c>https://HOSTNAME:443/PATH?QUERY</c>, as XenServer.NET does. Before sending, the request
    /// follows a <see cref="Session"/> this program made, when there is one:</para>
    /// <list type="number">
    /// <item>the live, logged-in session whose reference is the query's <c>session_id</c>; else</item>
    /// <item>a live, logged-in session made for the URI's host (and port, unless the URI has
    /// <see cref="BuildUri"/>'s https:443).</item>
    /// </list>
    /// <para>A followed session gives its <see cref="Options"/> (CA file, fingerprint, certificate
    /// callback or "insecure", connect timeout) and, when the URI is <c>https</c> on port 443 (what
    /// <see cref="BuildUri"/> makes), its scheme and port: a program that logged in to
    /// <c>http://host:8080</c> transfers over <c>http://host:8080</c>. Without one, the request
    /// goes to the URI as it is, under this class's policy: <see cref="CaFile"/>,
    /// <see cref="Fingerprint"/>, <see cref="ServerCertificateValidationCallback"/> or
    /// <see cref="InsecureSkipVerify"/>, and by default the system's certificates (verifying; XenServer.NET
    /// accepted any certificate). <c>hostname</c> may also be <c>host:port</c>.</para>
    /// <para><b>Proxy</b>: an <see cref="IWebProxy"/> that does not bypass the URI gives its address
    /// to libxenapi (a CONNECT tunnel for https), with its <see cref="IWebProxy.Credentials"/> for
    /// that address sent as Basic whatever <see cref="CurrentProxyAuthenticationMethod"/> says
    /// (never shown in errors). <b>timeout_ms</b>: the connect timeout
    /// and the longest the server may stay silent (0: libxenapi's defaults). <b>Cancelling</b>: the
    /// <see cref="FuncBool"/> is asked before the transfer and each time bytes have moved (about
    /// once per MiB); true stops it and throws <see cref="CancelledException"/>. The task in the
    /// query is the caller's: its progress and outcome are read from it, as in XenServer.NET.</para>
    /// </summary>
    public partial class HTTP
    {
        /// <summary>More redirects than <see cref="MAX_REDIRECTS"/>.</summary>
        [Serializable]
        public class TooManyRedirectsException : Exception
        {
            /// <summary>Creates the exception.</summary>
            public TooManyRedirectsException() { }
            /// <summary>Creates the exception.</summary>
            public TooManyRedirectsException(int redirect, Uri uri) : base("too many redirects (" + redirect + ") from " + uri?.Host) { }
            /// <summary>Creates the exception.</summary>
            public TooManyRedirectsException(string message) : base(message) { }
            /// <summary>Creates the exception.</summary>
            public TooManyRedirectsException(string message, Exception exception) : base(message, exception) { }
            /// <summary>Deserializes the exception.</summary>
            protected TooManyRedirectsException(SerializationInfo info, StreamingContext context) : base(info, context) { }
        }

        /// <summary>The server answered with an HTTP error status (the inner
        /// <see cref="XenApiTransportException"/> has it as <see cref="XenApiException.HttpStatus"/>).</summary>
        [Serializable]
        public class BadServerResponseException : Exception
        {
            /// <summary>Creates the exception.</summary>
            public BadServerResponseException() { }
            /// <summary>Creates the exception.</summary>
            public BadServerResponseException(string message) : base(message) { }
            /// <summary>Creates the exception.</summary>
            public BadServerResponseException(string message, Exception exception) : base(message, exception) { }
            /// <summary>Deserializes the exception.</summary>
            protected BadServerResponseException(SerializationInfo info, StreamingContext context) : base(info, context) { }
        }

        /// <summary>The <see cref="FuncBool"/> asked to stop the transfer.</summary>
        [Serializable]
        public class CancelledException : Exception
        {
            /// <summary>Creates the exception.</summary>
            public CancelledException() : base("the transfer was cancelled") { }
            /// <summary>Creates the exception.</summary>
            public CancelledException(string message) : base(message) { }
            /// <summary>Creates the exception.</summary>
            public CancelledException(string message, Exception exception) : base(message, exception) { }
            /// <summary>Deserializes the exception.</summary>
            protected CancelledException(SerializationInfo info, StreamingContext context) : base(info, context) { }
        }

        /// <summary>The proxy refused the credentials; kept for source compatibility (libxenapi
        /// reports a refusal as <see cref="XenApiTransportException"/>).</summary>
        [Serializable]
        public class ProxyServerAuthenticationException : Exception
        {
            /// <summary>Creates the exception.</summary>
            public ProxyServerAuthenticationException() { }
            /// <summary>Creates the exception.</summary>
            public ProxyServerAuthenticationException(string message) : base(message) { }
            /// <summary>Creates the exception.</summary>
            public ProxyServerAuthenticationException(string message, Exception exception) : base(message, exception) { }
            /// <summary>Deserializes the exception.</summary>
            protected ProxyServerAuthenticationException(SerializationInfo info, StreamingContext context) : base(info, context) { }
        }

        /// <summary>Asked as bytes move: true cancels.</summary>
        public delegate bool FuncBool();
        /// <summary>An upload's progress, in percent of the file.</summary>
        public delegate void UpdateProgressDelegate(int percent);
        /// <summary>A download's progress: bytes received so far.</summary>
        public delegate void DataCopiedDelegate(long bytes);

        /// <summary>The buffer <see cref="CopyStream"/> uses.</summary>
        public const int BUFFER_SIZE = 32 * 1024;
        /// <summary>The most redirects a transfer follows (libxenapi's limit).</summary>
        public const int MAX_REDIRECTS = 10;
        /// <summary>The port <see cref="BuildUri"/> puts in a URI.</summary>
        public const int DEFAULT_HTTPS_PORT = 443;

        /// <summary>XenServer.NET's proxy authentication schemes; kept for source compatibility
        /// (credentials go as Basic).</summary>
        public enum ProxyAuthenticationMethod
        {
            /// <summary>Basic.</summary>
            Basic = 0,
            /// <summary>Digest.</summary>
            Digest = 1,
        }

        /// <summary>Kept for source compatibility; not used (credentials go as Basic).</summary>
        public static ProxyAuthenticationMethod CurrentProxyAuthenticationMethod = ProxyAuthenticationMethod.Digest;

        // ------------------------------------------------------------------ the policy

        /// <summary>Transfers that follow no <see cref="Session"/>: trust the PEM certificates in
        /// this file instead of the system's certificates.</summary>
        public static string CaFile { get; set; }

        /// <summary>Transfers that follow no <see cref="Session"/>: accept exactly the certificate
        /// with this SHA-256 fingerprint.</summary>
        public static string Fingerprint { get; set; }

        /// <summary>Transfers that follow no <see cref="Session"/>: decide on the certificate (see
        /// <see cref="Options.ServerCertificateValidationCallback"/>).</summary>
        public static RemoteCertificateValidationCallback ServerCertificateValidationCallback { get; set; }

        /// <summary>Transfers that follow no <see cref="Session"/>: accept any certificate (tests
        /// and labs only). Default false.</summary>
        public static bool InsecureSkipVerify { get; set; }

        // ------------------------------------------------------------------ helpers

        /// <summary>Whether a transfer to <paramref name="uri"/> uses TLS.</summary>
        public static bool UseSSL(Uri uri)
        {
            if (uri == null) throw new ArgumentNullException(nameof(uri));
            return uri.Scheme == Uri.UriSchemeHttps || uri.Port == DEFAULT_HTTPS_PORT;
        }

        /// <summary>
        /// <c>https://HOSTNAME:443/PATH?QUERY</c> from alternating names and values (a last
        /// <c>object[]</c> or <c>string[]</c> is read as more of them): a null value is left out, a
        /// bool is <c>name=true</c> or left out when false, as xapi's handlers read them; other
        /// values are escaped. <paramref name="hostname"/> may carry a port (<c>host:8080</c>).
        /// </summary>
        public static Uri BuildUri(string hostname, string path, params object[] args)
        {
            if (hostname == null) throw new ArgumentNullException(nameof(hostname));
            var flat = new List<object>();
            foreach (object a in args ?? new object[0])
            {
                if (a is IEnumerable<object> more && !(a is string)) flat.AddRange(more);
                else flat.Add(a);
            }
            var b = new UriBuilder { Scheme = Uri.UriSchemeHttps, Port = DEFAULT_HTTPS_PORT, Host = hostname, Path = path ?? "/" };
            int colon = hostname.LastIndexOf(':');
            if (colon > 0 && hostname.IndexOf(':') == colon && int.TryParse(hostname.Substring(colon + 1), out int port))
            {
                b.Host = hostname.Substring(0, colon);
                b.Port = port;
            }
            var query = new StringBuilder();
            for (int i = 0; i + 1 < flat.Count; i += 2)
            {
                object v = flat[i + 1];
                if (v == null) continue;
                string kv;
                if (v is bool on)
                {
                    if (!on) continue;
                    kv = flat[i] + "=true";
                }
                else
                {
                    kv = flat[i] + "=" + Uri.EscapeDataString(Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture));
                }
                if (query.Length > 0) query.Append('&');
                query.Append(kv);
            }
            b.Query = query.ToString();
            return b.Uri;
        }

        /// <summary>Copies <paramref name="inStream"/> to <paramref name="outStream"/>, telling
        /// <paramref name="progressDelegate"/> the bytes copied (every 500 ms and at the end) and
        /// asking <paramref name="cancellingDelegate"/> between buffers (true throws
        /// <see cref="CancelledException"/>). Returns the bytes copied.</summary>
        public static long CopyStream(Stream inStream, Stream outStream, DataCopiedDelegate progressDelegate, FuncBool cancellingDelegate)
        {
            if (inStream == null) throw new ArgumentNullException(nameof(inStream));
            if (outStream == null) throw new ArgumentNullException(nameof(outStream));
            var buffer = new byte[BUFFER_SIZE];
            long copied = 0;
            DateTime last = DateTime.UtcNow;
            while (true)
            {
                if (cancellingDelegate != null && cancellingDelegate()) throw new CancelledException();
                int n = inStream.Read(buffer, 0, buffer.Length);
                if (n <= 0) break;
                outStream.Write(buffer, 0, n);
                copied += n;
                if (progressDelegate != null && DateTime.UtcNow - last > TimeSpan.FromMilliseconds(500))
                {
                    progressDelegate(copied);
                    last = DateTime.UtcNow;
                }
            }
            progressDelegate?.Invoke(copied);
            return copied;
        }

        /// <summary>GETs <paramref name="uri"/> into the file <paramref name="path"/> (written
        /// beside it first, then moved in place: a failed download leaves an older file as it was).
        /// See the class for the TLS, proxy, timeout and cancelling rules.</summary>
        public static void Get(DataCopiedDelegate dataCopiedDelegate, FuncBool cancellingDelegate, Uri uri, IWebProxy proxy, string path, int timeout_ms)
        {
            if (uri == null) throw new ArgumentNullException(nameof(uri));
            if (path == null) throw new ArgumentNullException(nameof(path));
            string full = Path.GetFullPath(path);
            string partial = Path.Combine(Path.GetDirectoryName(full) ?? ".", "." + Path.GetFileName(full) + "." + Guid.NewGuid().ToString("N") + ".part");
            try
            {
                using (var file = new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                {
                    Download(uri, proxy, timeout_ms, file, cancellingDelegate,
                        (done, total) => dataCopiedDelegate?.Invoke((long)done));
                    file.Flush();
                }
                if (File.Exists(full)) File.Delete(full);
                File.Move(partial, full);
            }
            finally
            {
                if (File.Exists(partial)) File.Delete(partial);
            }
        }

        /// <summary>PUTs the file <paramref name="path"/> to <paramref name="uri"/>, telling
        /// <paramref name="progressDelegate"/> the percent sent. See the class for the TLS, proxy,
        /// timeout and cancelling rules.</summary>
        public static void Put(UpdateProgressDelegate progressDelegate, FuncBool cancellingDelegate, Uri uri, IWebProxy proxy, string path, int timeout_ms)
        {
            if (uri == null) throw new ArgumentNullException(nameof(uri));
            if (path == null) throw new ArgumentNullException(nameof(path));
            using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
            {
                long length = file.Length;
                Upload(uri, proxy, timeout_ms, file, length, cancellingDelegate, (done, total) =>
                {
                    if (progressDelegate != null && length > 0)
                        progressDelegate((int)Math.Min(100, (long)done * 100 / length));
                });
            }
        }

        // ------------------------------------------------------------------ over libxenapi

        /// <summary>GETs <paramref name="uri"/> into <paramref name="sink"/>.</summary>
        internal static ulong Download(Uri uri, IWebProxy proxy, int timeout_ms, Stream sink, FuncBool cancelling, Action<ulong, long> progress)
        {
            return Run(uri, proxy, timeout_ms, sink, cancelling, progress, (options, url, call) =>
            {
                Status st = TransferNative.xenapi_transfer_download_url(options, url, call.Write, IntPtr.Zero, call.Options, out ulong bytes, out ErrorHandle err);
                call.Check(st, err);
                return bytes;
            });
        }

        /// <summary>PUTs <paramref name="length"/> bytes (-1: unknown) of <paramref name="source"/> to <paramref name="uri"/>.</summary>
        internal static ulong Upload(Uri uri, IWebProxy proxy, int timeout_ms, Stream source, long length, FuncBool cancelling, Action<ulong, long> progress)
        {
            return Run(uri, proxy, timeout_ms, source, cancelling, progress, (options, url, call) =>
            {
                Status st = TransferNative.xenapi_transfer_upload_url(options, url, call.Read, IntPtr.Zero, length, call.Options, out ulong bytes, out ErrorHandle err);
                call.Check(st, err);
                return bytes;
            });
        }

        static ulong Run(Uri uri, IWebProxy proxy, int timeout_ms, Stream stream, FuncBool cancelling, Action<ulong, long> progress,
            Func<OptionsHandle, byte[], TransferCall, ulong> transfer)
        {
            if (timeout_ms < 0) throw new ArgumentOutOfRangeException(nameof(timeout_ms));
            if (cancelling != null && cancelling()) throw new CancelledException();
            bool cancelled = false;
            Func<ulong, long, bool> onProgress = (done, total) =>
            {
                progress?.Invoke(done, total);
                if (cancelling != null && cancelling())
                {
                    cancelled = true;
                    return false;
                }
                return true;
            };
            TimeSpan? idle = timeout_ms > 0 ? TimeSpan.FromMilliseconds(timeout_ms) : (TimeSpan?)null;
            using (OptionsHandle options = OptionsFor(ref uri, proxy, timeout_ms))
            using (var call = new TransferCall(stream, onProgress, CancellationToken.None, null, idle))
            {
                try
                {
                    return transfer(options, Utf8.Z(uri.AbsoluteUri), call);
                }
                catch (Failure f) when (cancelled && f.Code == Failure.TASK_CANCELLED)
                {
                    throw new CancelledException("the transfer was cancelled", f);
                }
                catch (XenApiException e) when (e.Kind == ErrorKind.Http)
                {
                    throw new BadServerResponseException("Received error code " + e.HttpStatus + " from the server: " + e.Message, e);
                }
            }
        }

        /// <summary>The native options for a transfer to <paramref name="uri"/>: those of the
        /// <see cref="Session"/> it follows (which may also give the URI its scheme and port), else
        /// this class's policy; with the proxy and the connect timeout.</summary>
        static OptionsHandle OptionsFor(ref Uri uri, IWebProxy proxy, int timeout_ms)
        {
            Options options;
            bool defaultPort = uri.Scheme == Uri.UriSchemeHttps && uri.Port == DEFAULT_HTTPS_PORT;
            Session followed = Session.Follow(QueryValue(uri, "session_id"), uri.Host, defaultPort ? (int?)null : uri.Port);
            if (followed != null)
            {
                var server = new Uri(followed.Url);
                if (defaultPort)
                    uri = new UriBuilder(uri) { Scheme = server.Scheme, Port = server.Port }.Uri;
                options = followed.Settings.WithUrl(uri.GetLeftPart(UriPartial.Authority));
            }
            else
            {
                options = new Options(uri.GetLeftPart(UriPartial.Authority))
                {
                    CaFile = CaFile,
                    Fingerprint = Fingerprint,
                    ServerCertificateValidationCallback = ServerCertificateValidationCallback,
                    InsecureSkipVerify = InsecureSkipVerify,
                    IgnoreServicePointManager = false,
                };
            }
            if (timeout_ms > 0) options.ConnectTimeout = TimeSpan.FromMilliseconds(timeout_ms);
            OptionsHandle h = options.ToNative();
            try
            {
                if (proxy != null && !proxy.IsBypassed(uri))
                {
                    Uri via = proxy.GetProxy(uri);
                    if (via != null && via != uri)
                    {
                        // Credentials travel in the proxy URL (libxenapi sends them as Basic and
                        // never shows them); the URL's bytes are cleared after the call.
                        NetworkCredential c = proxy.Credentials?.GetCredential(via, "Basic");
                        var b = new UriBuilder(via.Scheme, via.Host, via.Port);
                        if (c != null && !string.IsNullOrEmpty(c.UserName))
                        {
                            b.UserName = Uri.EscapeDataString(c.UserName);
                            b.Password = Uri.EscapeDataString(c.Password ?? "");
                        }
                        byte[] url = Utf8.Z(b.Uri.AbsoluteUri.TrimEnd('/'));
                        try
                        {
                            Check.Ok(TransferNative.xenapi_options_set_proxy(h, url, out ErrorHandle err), err);
                        }
                        finally
                        {
                            Array.Clear(url, 0, url.Length);
                        }
                    }
                }
                return h;
            }
            catch
            {
                h.Dispose();
                throw;
            }
        }

        /// <summary>The unescaped value of <paramref name="name"/> in the URI's query, or null.</summary>
        internal static string QueryValue(Uri uri, string name)
        {
            string q = uri.Query;
            if (string.IsNullOrEmpty(q)) return null;
            foreach (string pair in q.TrimStart('?').Split('&'))
            {
                int eq = pair.IndexOf('=');
                string key = eq < 0 ? pair : pair.Substring(0, eq);
                if (key == name) return eq < 0 ? "" : Uri.UnescapeDataString(pair.Substring(eq + 1));
            }
            return null;
        }
    }

    public partial class HTTP_actions
    {
        static void Get(HTTP.DataCopiedDelegate dataCopiedDelegate, HTTP.FuncBool cancellingDelegate, int timeout_ms,
            string hostname, string remotePath, IWebProxy proxy, string localPath, params object[] args)
        {
            HTTP.Get(dataCopiedDelegate, cancellingDelegate, HTTP.BuildUri(hostname, remotePath, args), proxy, localPath, timeout_ms);
        }

        static void Put(HTTP.UpdateProgressDelegate progressDelegate, HTTP.FuncBool cancellingDelegate, int timeout_ms,
            string hostname, string remotePath, IWebProxy proxy, string localPath, params object[] args)
        {
            HTTP.Put(progressDelegate, cancellingDelegate, HTTP.BuildUri(hostname, remotePath, args), proxy, localPath, timeout_ms);
        }
    }

    public sealed partial class Session
    {
        static readonly List<WeakReference<Session>> live = new List<WeakReference<Session>>();

        /// <summary>A copy of the options this session was made with (for HTTP transfers that follow it).</summary>
        internal Options Settings { get; private set; }

        void Track(Options options)
        {
            Settings = options.WithUrl(options.Url);
            lock (live)
            {
                live.RemoveAll(w => !w.TryGetTarget(out _));
                live.Add(new WeakReference<Session>(this));
            }
        }

        /// <summary>The session an HTTP transfer follows (see <see cref="HTTP"/>): the live,
        /// logged-in one whose reference is <paramref name="sessionId"/>, else one made for
        /// <paramref name="host"/> (and <paramref name="port"/>, unless null); null when none.</summary>
        internal static Session Follow(string sessionId, string host, int? port)
        {
            var candidates = new List<Session>();
            lock (live)
            {
                foreach (var w in live)
                    if (w.TryGetTarget(out Session s)) candidates.Add(s);
            }
            Session byHost = null;
            foreach (Session s in candidates)
            {
                try
                {
                    if (!s.IsLoggedIn) continue;
                    if (sessionId != null && s.SessionRef == sessionId) return s;
                    if (byHost != null || host == null) continue;
                    var url = new Uri(s.Url);
                    if (string.Equals(url.Host, host, StringComparison.OrdinalIgnoreCase) && (port == null || url.Port == port))
                        byHost = s;
                }
                catch (ObjectDisposedException)
                {
                }
                catch (XenApiException)
                {
                }
            }
            return byHost;
        }
    }
}
