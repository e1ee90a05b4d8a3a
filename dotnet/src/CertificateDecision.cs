using System;
using System.Net;
using System.Net.Security;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;

namespace XenAPI
{
    /// <summary>
    /// A .NET certificate callback (<see cref="Options.ServerCertificateValidationCallback"/>, or
    /// <see cref="ServicePointManager.ServerCertificateValidationCallback"/>, which XenServer.NET
    /// honours) given to libxenapi's certificate callback: the library runs its default check, then
    /// asks the callback with what it found as <see cref="SslPolicyErrors"/>.
    /// </summary>
    internal sealed class CertificateDecision
    {
        readonly RemoteCertificateValidationCallback callback;
        readonly string url;

        CertificateDecision(RemoteCertificateValidationCallback callback, string url)
        {
            this.callback = callback;
            this.url = url;
        }

        // Static, so that the delegates outlive every native holder.
        static readonly NativeMethods.CertificateCallback Decide = DecideNative;
        static readonly NativeMethods.UserDataFinalizer Release = ReleaseNative;

        /// <summary>Installs <paramref name="callback"/> on native options.</summary>
        internal static void Install(OptionsHandle options, RemoteCertificateValidationCallback callback, string url)
        {
            var handle = GCHandle.Alloc(new CertificateDecision(callback, url));
            // The library owns the handle from here: it calls Release once, even on failure.
            Check.Ok(NativeMethods.xenapi_options_set_certificate_callback(options, Decide, GCHandle.ToIntPtr(handle), Release, out ErrorHandle err), err);
        }

        static bool DecideNative(IntPtr userData, IntPtr der, UIntPtr derLen, IntPtr serverName, int problem, IntPtr explanation)
        {
            try
            {
                var decision = (CertificateDecision)GCHandle.FromIntPtr(userData).Target;
                var bytes = new byte[checked((int)derLen.ToUInt64())];
                Marshal.Copy(der, bytes, 0, bytes.Length);
                var certificate = new X509Certificate2(bytes);
                var chain = new X509Chain();
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                try { chain.Build(certificate); } catch (Exception) { /* the errors below say it */ }
                return decision.callback(decision.url, certificate, chain, ErrorsOf(problem));
            }
            catch (Exception)
            {
                // An exception must not cross into native code: a throwing callback refuses.
                return false;
            }
        }

        /// <summary>xenapi_certificate_problem as .NET names it.</summary>
        static SslPolicyErrors ErrorsOf(int problem)
        {
            switch (problem)
            {
                case 0: return SslPolicyErrors.None;
                case 2: return SslPolicyErrors.RemoteCertificateNameMismatch;
                default: return SslPolicyErrors.RemoteCertificateChainErrors;
            }
        }

        static void ReleaseNative(IntPtr userData)
        {
            try { GCHandle.FromIntPtr(userData).Free(); } catch (Exception) { }
        }
    }
}
