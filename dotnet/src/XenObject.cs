using System;
using System.Collections.Generic;
using System.ComponentModel;

namespace XenAPI
{
    /// <summary>What every <see cref="XenRef{T}"/> is, whatever its class.</summary>
    internal interface IXenRef
    {
        string opaque_ref { get; }
    }

    /// <summary>
    /// A reference to a server object of class <typeparamref name="T"/> (<c>OpaqueRef:...</c> on
    /// xapi, the UUID on xend), as XenServer.NET has it. It converts to <c>string</c>, so it passes
    /// where the generated methods take a reference: <c>VM.start(session, vmRef, false, false)</c>.
    /// Two references are equal when their texts are.
    /// </summary>
    public sealed class XenRef<T> : IXenRef, IEquatable<XenRef<T>> where T : class
    {
        /// <summary>The reference text.</summary>
        public string opaque_ref { get; }

        /// <summary>A reference of this text (null becomes <c>OpaqueRef:NULL</c>).</summary>
        public XenRef(string opaqueRef)
        {
            opaque_ref = opaqueRef ?? "OpaqueRef:NULL";
        }

        /// <summary>The reference of a record whose <c>opaque_ref</c> is set.</summary>
        public XenRef(T record) : this((record as IRecord)?.opaque_ref
            ?? throw new ArgumentNullException(nameof(record)))
        {
        }

        /// <summary>A reference of this text.</summary>
        public static XenRef<T> Create(string opaqueRef) => new XenRef<T>(opaqueRef);

        /// <summary>A reference of this text, given as an object (a value from
        /// <see cref="Session.Call"/>); anything but a string or null is refused.</summary>
        public static XenRef<T> Create(object opaqueRef)
        {
            if (opaqueRef != null && !(opaqueRef is string))
                throw new ArgumentException("a reference is a string, not " + opaqueRef.GetType().Name, nameof(opaqueRef));
            return new XenRef<T>((string)opaqueRef);
        }

        /// <summary>References of these texts, in order.</summary>
        public static List<XenRef<T>> Create(string[] opaqueRefs)
        {
            if (opaqueRefs == null) throw new ArgumentNullException(nameof(opaqueRefs));
            var refs = new List<XenRef<T>>(opaqueRefs.Length);
            foreach (string r in opaqueRefs) refs.Add(new XenRef<T>(r));
            return refs;
        }

        /// <summary>References of these texts, given as objects, in order.</summary>
        public static List<XenRef<T>> Create(object[] opaqueRefs)
        {
            if (opaqueRefs == null) throw new ArgumentNullException(nameof(opaqueRefs));
            var refs = new List<XenRef<T>>(opaqueRefs.Length);
            foreach (object r in opaqueRefs) refs.Add(Create(r));
            return refs;
        }

        /// <summary>The reference text.</summary>
        public static implicit operator string(XenRef<T> r) => r?.opaque_ref;

        /// <inheritdoc/>
        public bool Equals(XenRef<T> other) => other != null && other.opaque_ref == opaque_ref;

        /// <inheritdoc/>
        public override bool Equals(object obj) => Equals(obj as XenRef<T>);

        /// <inheritdoc/>
        public override int GetHashCode() => opaque_ref.GetHashCode();

        /// <inheritdoc/>
        public override string ToString() => opaque_ref;
    }

    /// <summary>
    /// The base of every record class (<see cref="VM"/>, <see cref="Host"/>, ...), as in XenServer.NET:
    /// a record read from the server, with the reference it was read under when known.
    /// </summary>
    public abstract class XenObject<S> : IRecord, INotifyPropertyChanged, IHasOpaqueRef where S : XenObject<S>
    {
        void IHasOpaqueRef.SetRef(string opaqueRef) => opaque_ref = opaqueRef;

        /// <summary>The reference of the object this record describes, when the caller set it
        /// (records from <c>get_all_records</c> are keyed by it instead). <see cref="Session"/>, which
        /// is also a connection, answers its own session reference.</summary>
        public virtual string opaque_ref { get; set; }

        /// <summary>Copies every field of <paramref name="record"/> into this one (raising
        /// <see cref="PropertyChanged"/> for each field that changes).</summary>
        public abstract void UpdateFrom(S record);

        /// <summary>Raised when a property is set to a different value, with the field's name.</summary>
        public event PropertyChangedEventHandler PropertyChanged;

        /// <summary>Raises <see cref="PropertyChanged"/> for the field <paramref name="info"/>.</summary>
        public void NotifyPropertyChanged(string info) =>
            PropertyChanged?.Invoke(this, new PropertyChangedEventArgs(info));

        /// <summary>Removes every <see cref="PropertyChanged"/> handler.</summary>
        public void ClearEventListeners() => PropertyChanged = null;
    }

    /// <summary>What every record is, whatever its class: for the <see cref="XenRef{T}"/> of a record.</summary>
    internal interface IRecord
    {
        string opaque_ref { get; }
    }
}
