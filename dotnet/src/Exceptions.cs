using System;

namespace XenApi
{
    /// <summary>
    /// What went wrong, as libxenapi classifies it (<c>xenapi_status</c>). The values are those of
    /// the C ABI and stable across versions.
    /// </summary>
    public enum ErrorKind
    {
        /// <summary>The server refused the call (<c>Status: Failure</c>); see <see cref="XenApiException.Code"/>.</summary>
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
        /// <summary>An argument was unusable (bad URL or fingerprint, wrong value kind, not logged in).</summary>
        InvalidArgument = 7,
        /// <summary>A required argument was missing.</summary>
        NullArgument = 8,
        /// <summary>A bug in libxenapi (a caught panic). The library stays usable.</summary>
        Internal = 9,
    }

    /// <summary>
    /// Every failure of a XenAPI call. A server refusal (<see cref="ErrorKind.Api"/>) carries the
    /// XenAPI error code and its parameters, as the server's <c>ErrorDescription</c>:
    /// <code>
    /// try { vm.Start(); }
    /// catch (XenApiException e) when (e.Code == ErrorCodes.VM_BAD_POWER_STATE) { ... }
    /// </code>
    /// Transport failures are the subclasses <see cref="XenApiTransportException"/>,
    /// <see cref="XenApiTlsException"/> and <see cref="XenApiTimeoutException"/>.
    /// Messages never contain a password or a session reference.
    /// </summary>
    public class XenApiException : Exception
    {
        static readonly string[] None = new string[0];

        /// <summary>The kind of failure.</summary>
        public ErrorKind Kind { get; }

        /// <summary>The full <c>ErrorDescription</c>: the code, then its parameters. Empty unless
        /// <see cref="Kind"/> is <see cref="ErrorKind.Api"/>.</summary>
        public string[] ErrorDescription { get; }

        /// <summary>The HTTP status for <see cref="ErrorKind.Http"/>, else 0.</summary>
        public int HttpStatus { get; }

        /// <summary>Creates an exception; bindings use <c>XenApiException.FromNative</c>.</summary>
        public XenApiException(ErrorKind kind, string message, string[] errorDescription = null,
                               int httpStatus = 0, Exception inner = null)
            : base(message, inner)
        {
            Kind = kind;
            ErrorDescription = errorDescription ?? None;
            HttpStatus = httpStatus;
        }

        /// <summary>The XenAPI error code (<c>VM_BAD_POWER_STATE</c>, ...), or null when the
        /// server did not send one.</summary>
        public string Code => ErrorDescription.Length > 0 ? ErrorDescription[0] : null;

        /// <summary>The parameters after the code (for <c>VM_BAD_POWER_STATE</c>: vm, expected,
        /// actual).</summary>
        public string[] Params
        {
            get
            {
                if (ErrorDescription.Length <= 1) return None;
                var p = new string[ErrorDescription.Length - 1];
                Array.Copy(ErrorDescription, 1, p, 0, p.Length);
                return p;
            }
        }

        /// <summary>True when the server refused with this code.</summary>
        public bool Is(string code) => Code == code;

        /// <summary>The exception for a kind: the transport subclasses for Connect, Http, Protocol,
        /// Tls and Timeout; <see cref="XenApiException"/> for the rest.</summary>
        internal static XenApiException Create(ErrorKind kind, string message, string[] description, int httpStatus)
        {
            switch (kind)
            {
                case ErrorKind.Tls: return new XenApiTlsException(message);
                case ErrorKind.Timeout: return new XenApiTimeoutException(message);
                case ErrorKind.Connect:
                case ErrorKind.Http:
                case ErrorKind.Protocol:
                    return new XenApiTransportException(kind, message, httpStatus);
                default:
                    return new XenApiException(kind, message, description, httpStatus);
            }
        }
    }

    /// <summary>The host could not be reached, the connection broke, it answered HTTP errors, or
    /// its reply was not XenAPI.</summary>
    public class XenApiTransportException : XenApiException
    {
        /// <summary>Creates a transport failure of this kind.</summary>
        public XenApiTransportException(ErrorKind kind, string message, int httpStatus = 0)
            : base(kind, message, null, httpStatus) { }
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

    /// <summary>The XenAPI error codes this package names; the server may send any of the
    /// datamodel's 577 codes, and <see cref="XenApiException.Code"/> carries it as is.</summary>
    public static class ErrorCodes
    {
#pragma warning disable 1591
        public const string SESSION_AUTHENTICATION_FAILED = "SESSION_AUTHENTICATION_FAILED";
        public const string SESSION_INVALID = "SESSION_INVALID";
        public const string HOST_IS_SLAVE = "HOST_IS_SLAVE";
        public const string HANDLE_INVALID = "HANDLE_INVALID";
        public const string VM_BAD_POWER_STATE = "VM_BAD_POWER_STATE";
        public const string MESSAGE_METHOD_UNKNOWN = "MESSAGE_METHOD_UNKNOWN";
        public const string MESSAGE_PARAMETER_COUNT_MISMATCH = "MESSAGE_PARAMETER_COUNT_MISMATCH";
        public const string INTERNAL_ERROR = "INTERNAL_ERROR";
#pragma warning restore 1591
    }
}
