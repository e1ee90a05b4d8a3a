using System;

namespace XenApi
{
    /// <summary>
    /// A server object seen through a session: its reference (<c>OpaqueRef:...</c> on xapi, the
    /// UUID on xend) and the session that reaches it. Cheap: making one sends nothing. Two objects
    /// are equal when their references are.
    /// </summary>
    public abstract class XenObject : IEquatable<XenObject>
    {
        /// <summary>The object reference.</summary>
        public string Ref { get; }

        /// <summary>The session calls on this object go through.</summary>
        public Session Session { get; }

        internal readonly byte[] RefZ;

        /// <summary>An object of this reference, reached through <paramref name="session"/>.</summary>
        protected XenObject(Session session, string reference)
        {
            Session = session ?? throw new ArgumentNullException(nameof(session));
            Ref = reference ?? throw new ArgumentNullException(nameof(reference));
            RefZ = Utf8.Z(reference);
        }

        /// <inheritdoc/>
        public bool Equals(XenObject other) => other != null && other.GetType() == GetType() && other.Ref == Ref;
        /// <inheritdoc/>
        public override bool Equals(object obj) => Equals(obj as XenObject);
        /// <inheritdoc/>
        public override int GetHashCode() => Ref.GetHashCode();
        /// <inheritdoc/>
        public override string ToString() => GetType().Name + "(" + Ref + ")";
    }
}
