using System;
using System.Collections.Generic;

namespace XenAPI
{
    /// <summary>
    /// What went wrong, as libxenapi classifies it (<c>xenapi_status</c>). The values are those of
    /// the C ABI and stable across versions.
    /// </summary>
    public enum ErrorKind
    {
        /// <summary>The server refused the call (<c>Status: Failure</c>): a <see cref="Failure"/>.</summary>
        Api = 1,
        /// <summary>The host could not be reached, or the connection broke before a full reply.</summary>
        Connect = 2,
        /// <summary>The TLS handshake failed: untrusted certificate, pin mismatch, no common protocol.</summary>
        Tls = 3,
        /// <summary>The server answered with an HTTP error status instead of an XML-RPC reply.</summary>
        Http = 4,
        /// <summary>The connect timeout or the call deadline passed.</summary>
        Timeout = 5,
        /// <summary>The reply was not a valid XenAPI reply.</summary>
        Protocol = 6,
        /// <summary>An argument was unusable (bad URL or fingerprint, unknown enum value, not logged in).</summary>
        InvalidArgument = 7,
        /// <summary>A required argument was missing.</summary>
        NullArgument = 8,
        /// <summary>A bug in libxenapi (a caught panic). The library stays usable.</summary>
        Internal = 9,
    }

    /// <summary>
    /// Every failure of a XenAPI call through this library:
    /// <list type="bullet">
    /// <item><see cref="Failure"/>: the server refused (a XenAPI error code and its parameters), as in XenServer.NET;</item>
    /// <item><see cref="XenApiTransportException"/> (<see cref="XenApiTlsException"/>, <see cref="XenApiTimeoutException"/>):
    /// the server could not be reached, the TLS policy refused it, a deadline passed, or it did not answer in XenAPI;</item>
    /// <item><see cref="XenApiException"/> itself: unusable arguments (<see cref="ErrorKind.InvalidArgument"/>,
    /// calls after logout) and library bugs.</item>
    /// </list>
    /// Messages never contain a password or a session reference.
    /// </summary>
    public class XenApiException : Exception
    {
        /// <summary>The kind of failure.</summary>
        public ErrorKind Kind { get; }

        /// <summary>The HTTP status for <see cref="ErrorKind.Http"/>, else 0.</summary>
        public int HttpStatus { get; }

        /// <summary>Creates an exception of this kind.</summary>
        public XenApiException(ErrorKind kind, string message, int httpStatus = 0, Exception inner = null)
            : base(message, inner)
        {
            Kind = kind;
            HttpStatus = httpStatus;
        }

        /// <summary>The exception for a kind: <see cref="Failure"/> for Api, the transport subclasses for
        /// Connect, Http, Protocol, Tls and Timeout; <see cref="XenApiException"/> for the rest.</summary>
        internal static XenApiException Create(ErrorKind kind, string message, List<string> description, int httpStatus)
        {
            switch (kind)
            {
                case ErrorKind.Api: return new Failure(message, description ?? new List<string>());
                case ErrorKind.Tls: return new XenApiTlsException(message);
                case ErrorKind.Timeout: return new XenApiTimeoutException(message);
                case ErrorKind.Connect:
                case ErrorKind.Http:
                case ErrorKind.Protocol:
                    return new XenApiTransportException(kind, message, httpStatus);
                default:
                    return new XenApiException(kind, message, httpStatus);
            }
        }
    }

    /// <summary>
    /// The server refused a call: <see cref="ErrorDescription"/> is the XenAPI error code, then its
    /// parameters, as XenServer.NET's <c>Failure</c> has it. The codes are constants of this class
    /// (generated from the datamodel, with their parameter names):
    /// <code>
    /// try { VM.start(session, vm, false, false); }
    /// catch (Failure f) when (f.ErrorDescription[0] == Failure.VM_BAD_POWER_STATE) { ... }
    /// </code>
    /// </summary>
    public partial class Failure : XenApiException
    {
        /// <summary>The code, then its parameters (for <c>VM_BAD_POWER_STATE</c>: vm, expected, actual).</summary>
        public List<string> ErrorDescription { get; }

        /// <summary>A failure with this description (code first).</summary>
        public Failure(params string[] errorDescription) : this(new List<string>(errorDescription ?? new string[0])) { }

        /// <summary>A failure with this description (code first).</summary>
        public Failure(List<string> errorDescription)
            : this(errorDescription != null && errorDescription.Count > 0 ? string.Join(" ", errorDescription) : "XenAPI failure",
                   errorDescription) { }

        internal Failure(string message, List<string> errorDescription) : base(ErrorKind.Api, message)
        {
            ErrorDescription = errorDescription ?? new List<string>();
        }

        /// <summary>The XenAPI error code (<c>VM_BAD_POWER_STATE</c>, ...), or null when the server sent none.</summary>
        public string Code => ErrorDescription.Count > 0 ? ErrorDescription[0] : null;

        /// <summary>The parameters after the code.</summary>
        public string[] Params
        {
            get
            {
                if (ErrorDescription.Count <= 1) return new string[0];
                return ErrorDescription.GetRange(1, ErrorDescription.Count - 1).ToArray();
            }
        }

        /// <summary>True when the server refused with this code.</summary>
        public bool Is(string code) => Code == code;
    }

    /// <summary>The host could not be reached, the connection broke, it answered HTTP errors, or
    /// its reply was not XenAPI.</summary>
    public class XenApiTransportException : XenApiException
    {
        /// <summary>Creates a transport failure of this kind.</summary>
        public XenApiTransportException(ErrorKind kind, string message, int httpStatus = 0)
            : base(kind, message, httpStatus) { }
    }

    /// <summary>The TLS handshake failed: the certificate is not trusted by the policy (CA file,
    /// fingerprint pin), or no protocol is common.</summary>
    public class XenApiTlsException : XenApiTransportException
    {
        /// <summary>Creates a TLS failure.</summary>
        public XenApiTlsException(string message) : base(ErrorKind.Tls, message) { }
    }

    /// <summary>The connect timeout or the whole-call deadline of <see cref="Options"/> passed.</summary>
    public class XenApiTimeoutException : XenApiTransportException
    {
        /// <summary>Creates a timeout failure.</summary>
        public XenApiTimeoutException(string message) : base(ErrorKind.Timeout, message) { }
    }
}
