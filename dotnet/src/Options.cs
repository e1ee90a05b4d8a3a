using System;

namespace XenAPI
{
    /// <summary>The wire protocol of a session (<see cref="Options.Protocol"/>).</summary>
    public enum Protocol
    {
        /// <summary>JSON-RPC when the server offers it (found out once, at login), XML-RPC
        /// otherwise (xend, older xapi). The default.</summary>
        Auto = 0,
        /// <summary>JSON-RPC 2.0 on <c>/jsonrpc</c> (xapi).</summary>
        JsonRpc = 1,
        /// <summary>XML-RPC on <c>/</c> (xapi and xend).</summary>
        XmlRpc = 2,
    }

    /// <summary>
    /// How to reach a server. Defaults are safe: TLS verified against the system's trusted
    /// certificates (Windows' store; SSL_CERT_FILE/SSL_CERT_DIR on Linux), connect timeout 10 s, call deadline 300 s, logins follow the pool coordinator.
    /// <code>
    /// var o = new Options("https://xs1") { Fingerprint = "sha256:AB:CD:...", Timeout = TimeSpan.FromMinutes(1) };
    /// using (var xen = new Session(o)) { ... }
    /// </code>
    /// At most one of <see cref="CaFile"/>, <see cref="Fingerprint"/>,
    /// <see cref="InsecureSkipVerify"/> and <see cref="ServerCertificateValidationCallback"/> may be set. The session copies the options when created.
    /// </summary>
    public sealed class Options
    {
        /// <summary>Options for <paramref name="url"/>: <c>http://host[:port]</c>, <c>https://host[:port]</c>
        /// or <c>unix:///path/to/socket</c> (xapi's <c>/var/lib/xcp/xapi</c>, xend's
        /// <c>/var/run/xend/xen-api.sock</c>); a bare <c>host[:port]</c> means https. An unusable URL
        /// fails when the session is created.</summary>
        public Options(string url)
        {
            Url = url ?? throw new ArgumentNullException(nameof(url));
        }

        /// <summary>The server URL.</summary>
        public string Url { get; private set; }

        /// <summary>How long to wait for the TCP (and TLS) connection. Default 10 s.</summary>
        public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

        /// <summary>The deadline of a whole call, connect to last byte (waiting for a call slot
        /// included). Default 300 s. One block of calls can have its own:
        /// <see cref="Session.WithTimeout"/>; but prefer the <c>async_</c> form and its
        /// <c>async_..._wait</c> for long operations (VM.migrate, VDI.copy).</summary>
        public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(300);

        /// <summary>Verify the server against the PEM certificates in this file (a private CA or the
        /// host's own self-signed certificate) instead of the system's certificates.</summary>
        public string CaFile { get; set; }

        /// <summary>Accept exactly the certificate with this SHA-256 fingerprint (64 hex digits,
        /// <c>:</c> separators and a <c>sha256:</c> prefix allowed), as for xapi's self-signed
        /// certificate. Another certificate fails with <see cref="XenApiTlsException"/>.</summary>
        public string Fingerprint { get; set; }

        /// <summary>Accept any certificate. Only for tests and labs: anyone on the path can read and
        /// change the traffic.</summary>
        public bool InsecureSkipVerify { get; set; }

        /// <summary>Decides on the server's certificate after the default check (Mozilla roots,
        /// name, dates), which it is told as <see cref="System.Net.Security.SslPolicyErrors"/>:
        /// <c>None</c>, <c>RemoteCertificateChainErrors</c> (xapi's self-signed certificate) or
        /// <c>RemoteCertificateNameMismatch</c>; the sender is the URL. Called once per new
        /// connection, on the calling thread; an exception refuses. When none of this,
        /// <see cref="CaFile"/>, <see cref="Fingerprint"/> and <see cref="InsecureSkipVerify"/> is
        /// set, the session uses
        /// <see cref="System.Net.ServicePointManager.ServerCertificateValidationCallback"/> if a
        /// program set it, as XenServer.NET does (<see cref="IgnoreServicePointManager"/> turns
        /// that off). A callback that always returns true is as unsafe as
        /// <see cref="InsecureSkipVerify"/>.</summary>
        public System.Net.Security.RemoteCertificateValidationCallback ServerCertificateValidationCallback { get; set; }

        /// <summary>Do not use <see cref="System.Net.ServicePointManager.ServerCertificateValidationCallback"/>
        /// (see <see cref="ServerCertificateValidationCallback"/>). Default false.</summary>
        public bool IgnoreServicePointManager { get; set; }

        /// <summary>On <c>HOST_IS_SLAVE</c> at login, log in at the pool coordinator. Default true.</summary>
        public bool FollowCoordinator { get; set; } = true;

        /// <summary>Pool failover. Default true: after each login the session notes the pool's host
        /// addresses; when the coordinator stops answering (connection refused, connect timeout,
        /// reset) or names another one, it probes them with short timeouts, follows
        /// <c>HOST_IS_SLAVE</c> to the new coordinator (HA promotes one), logs in there with the same
        /// credentials and goes on. A call in flight is sent again only if it was never sent or only
        /// reads (<c>get_*</c>); otherwise it throws <see cref="XenApiTransportException"/> (kind Connect) saying it
        /// may have been carried out.</summary>
        public bool Failover { get; set; } = true;

        /// <summary>The most calls the session has in flight at once, over all threads; more wait
        /// for a slot within their deadline. Null keeps the default, 20.</summary>
        public int? MaxConcurrentCalls { get; set; }

        /// <summary>The largest reply accepted in bytes (after decompression); null keeps the
        /// library default (192 MiB, enough for VM.get_all_records of about 12,000 VMs; counted both
        /// as bytes read and as memory the decoded values take).</summary>
        public long? MaxResponseBytes { get; set; }

        /// <summary>The API version sent at login; null keeps the default (<c>1.0</c>).</summary>
        public string Version { get; set; }

        /// <summary>The originator sent at login (xapi counts sessions per originator); null keeps
        /// the default (<c>xenapi-rs</c>).</summary>
        public string Originator { get; set; }

        /// <summary>The wire protocol; results are the same values whichever carries them.
        /// Default <see cref="XenAPI.Protocol.Auto"/>.</summary>
        public Protocol Protocol { get; set; } = Protocol.Auto;

        /// <summary>A copy of these options for another URL (HTTP transfers to a pool member).</summary>
        internal Options WithUrl(string url)
        {
            var copy = (Options)MemberwiseClone();
            copy.Url = url ?? throw new ArgumentNullException(nameof(url));
            return copy;
        }

        /// <summary>The binding's product token in the User-Agent xapi logs.</summary>
        internal const string BindingName = "XenApi.NET";

        /// <summary>This assembly's version (its informational version: the package's).</summary>
        internal static readonly string BindingVersion = ReadVersion();

        static string ReadVersion()
        {
            var a = typeof(Options).Assembly;
            var info = (System.Reflection.AssemblyInformationalVersionAttribute)Attribute.GetCustomAttribute(a,
                typeof(System.Reflection.AssemblyInformationalVersionAttribute));
            return info?.InformationalVersion ?? a.GetName().Version.ToString(3);
        }

        internal OptionsHandle ToNative()
        {
            NativeLibraryProbe.EnsureLoaded();
            int tls = (CaFile != null ? 1 : 0) + (Fingerprint != null ? 1 : 0) + (InsecureSkipVerify ? 1 : 0)
                + (ServerCertificateValidationCallback != null ? 1 : 0);
            if (tls > 1)
                throw new ArgumentException("set at most one of CaFile, Fingerprint, InsecureSkipVerify and ServerCertificateValidationCallback");
            var decide = ServerCertificateValidationCallback;
            if (tls == 0 && !IgnoreServicePointManager)
                decide = System.Net.ServicePointManager.ServerCertificateValidationCallback;
            ErrorHandle err;
            Check.Ok(NativeMethods.xenapi_options_new(Utf8.Z(Url), out OptionsHandle h, out err), err);
            try
            {
                Check.Ok(NativeMethods.xenapi_options_set_connect_timeout_ms(h, Millis(ConnectTimeout, nameof(ConnectTimeout)), out err), err);
                Check.Ok(NativeMethods.xenapi_options_set_timeout_ms(h, Millis(Timeout, nameof(Timeout)), out err), err);
                if (CaFile != null)
                    Check.Ok(NativeMethods.xenapi_options_set_ca_file(h, Utf8.Z(CaFile), out err), err);
                if (Fingerprint != null)
                    Check.Ok(NativeMethods.xenapi_options_set_fingerprint(h, Utf8.Z(Fingerprint), out err), err);
                if (InsecureSkipVerify)
                    Check.Ok(NativeMethods.xenapi_options_set_insecure_skip_verify(h, true, out err), err);
                if (decide != null)
                    CertificateDecision.Install(h, decide, Url);
                // The User-Agent names this package: "XenApi.NET/<version> xenapi-rs/<core version>".
                Check.Ok(CallNative.xenapi_options_set_binding(h, Utf8.Z(BindingName), Utf8.Z(BindingVersion), out err), err);
                Check.Ok(NativeMethods.xenapi_options_set_follow_coordinator(h, FollowCoordinator, out err), err);
                Check.Ok(NativeMethods.xenapi_options_set_failover(h, Failover, out err), err);
                if (MaxConcurrentCalls.HasValue)
                {
                    if (MaxConcurrentCalls.Value < 1) throw new ArgumentOutOfRangeException(nameof(MaxConcurrentCalls));
                    Check.Ok(NativeMethods.xenapi_options_set_max_concurrent_calls(h, (UIntPtr)MaxConcurrentCalls.Value, out err), err);
                }
                if (MaxResponseBytes.HasValue)
                {
                    if (MaxResponseBytes.Value <= 0) throw new ArgumentOutOfRangeException(nameof(MaxResponseBytes));
                    Check.Ok(NativeMethods.xenapi_options_set_max_response_bytes(h, (ulong)MaxResponseBytes.Value, out err), err);
                }
                if (Version != null)
                    Check.Ok(NativeMethods.xenapi_options_set_version(h, Utf8.Z(Version), out err), err);
                if (Originator != null)
                    Check.Ok(NativeMethods.xenapi_options_set_originator(h, Utf8.Z(Originator), out err), err);
                if (Protocol != Protocol.Auto)
                    Check.Ok(NativeMethods.xenapi_options_set_protocol(h, (int)Protocol, out err), err);
                return h;
            }
            catch
            {
                h.Dispose();
                throw;
            }
        }

        static ulong Millis(TimeSpan t, string name)
        {
            if (t <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(name, "must be positive");
            return (ulong)Math.Max(1, Math.Ceiling(t.TotalMilliseconds));
        }
    }
}
