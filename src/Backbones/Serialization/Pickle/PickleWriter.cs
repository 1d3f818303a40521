using System.Buffers.Binary;
using System.Collections;
using System.Numerics;
using System.Text;

namespace Backbones.Serialization.Pickle;

/// <summary>
/// Writes .NET values as a protocol-2 pickle, the protocol torch.save uses, with only the opcodes and globals
/// that <c>torch.load(weights_only=True)</c> accepts. Values it cannot express are refused by type name.
/// </summary>
internal sealed class PickleWriter
{
    readonly BinaryWriter _out;
    readonly Func<object, object?> _translate;

    /// <param name="translate">Spells a value the writer does not know (a tensor) in terms it does
    /// (a <see cref="Reduce"/> over a <see cref="PersistentId"/>), or returns null to refuse it.</param>
    public PickleWriter(Stream stream, Func<object, object?> translate)
    {
        _out = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        _translate = translate;
    }

    public void WritePickle(object? value)
    {
        _out.Write((byte)0x80);
        _out.Write((byte)2);
        Write(value);
        _out.Write((byte)'.');
        _out.Flush();
    }

    /// <summary>A call f(args...) of an allowed global: the way tensors and OrderedDicts are spelled.</summary>
    public sealed record Reduce(PyGlobal Callable, object?[] Args, IReadOnlyDictionary<string, object?>? State = null);

    /// <summary>A value pickled as a persistent id (BINPERSID), resolved by the loader.</summary>
    public sealed record PersistentId(object?[] Id);

    void Write(object? value)
    {
        switch (value)
        {
            case null: _out.Write((byte)'N'); break;
            case bool b: _out.Write((byte)(b ? 0x88 : 0x89)); break;
            case int i: WriteInt(i); break;
            case long l: WriteInt(l); break;
            case BigInteger big: WriteLong(big); break;
            case float f: WriteFloat(f); break;
            case double d: WriteFloat(d); break;
            case string s: WriteString(s); break;
            case byte[] bytes:
                // Protocol 2 has no bytes opcode; Python spells bytes as _codecs.encode(text, 'latin1').
                Write(new Reduce(new PyGlobal("_codecs", "encode"), [Encoding.Latin1.GetString(bytes), "latin1"]));
                break;
            case PyGlobal g: WriteGlobal(g); break;
            case PersistentId p:
                WriteTuple(p.Id);
                _out.Write((byte)'Q');
                break;
            case Reduce r:
                WriteGlobal(r.Callable);
                WriteTuple(r.Args);
                _out.Write((byte)'R');
                if (r.State is { Count: > 0 }) WriteBuild(r.State);
                break;
            case object?[] tuple: WriteTuple(tuple); break;
            case PyDict dict: WriteDict(dict, dict.Ordered, dict.Attributes); break;
            case IDictionary dict: WriteDict(dict, ordered: false, attributes: null); break;
            case IList list: WriteList(list); break;
            default:
                Write(_translate(value) ?? throw new NotSupportedException($"cannot pickle a value of type {value.GetType().Name}"));
                break;
        }
    }

    void WriteInt(long v)
    {
        if (v is >= 0 and <= 0xff) { _out.Write((byte)'K'); _out.Write((byte)v); }
        else if (v is >= 0 and <= 0xffff) { _out.Write((byte)'M'); _out.Write((ushort)v); }
        else if (v is >= int.MinValue and <= int.MaxValue) { _out.Write((byte)'J'); _out.Write((int)v); }
        else WriteLong(v);
    }

    void WriteLong(BigInteger v)
    {
        var bytes = v.ToByteArray(isUnsigned: false, isBigEndian: false);
        if (bytes.Length > 255) throw new NotSupportedException("integer too large to pickle");
        _out.Write((byte)0x8a);
        _out.Write((byte)bytes.Length);
        _out.Write(bytes);
    }

    void WriteFloat(double d)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteDoubleBigEndian(b, d);
        _out.Write((byte)'G');
        _out.Write(b);
    }

    void WriteString(string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        _out.Write((byte)'X');
        _out.Write((uint)bytes.Length);
        _out.Write(bytes);
    }

    void WriteGlobal(PyGlobal g)
    {
        _out.Write((byte)'c');
        _out.Write(Encoding.ASCII.GetBytes($"{g.Module}\n{g.Name}\n"));
    }

    void WriteTuple(object?[] items)
    {
        switch (items.Length)
        {
            case 0: _out.Write((byte)')'); return;
            case <= 3:
                foreach (var item in items) Write(item);
                _out.Write((byte)(0x84 + items.Length)); // TUPLE1..TUPLE3
                return;
            default:
                _out.Write((byte)'(');
                foreach (var item in items) Write(item);
                _out.Write((byte)'t');
                return;
        }
    }

    void WriteList(IList list)
    {
        _out.Write((byte)']');
        foreach (var batch in list.Cast<object?>().Chunk(1000))
        {
            _out.Write((byte)'(');
            foreach (var item in batch) Write(item);
            _out.Write((byte)'e');
        }
    }

    void WriteDict(IDictionary dict, bool ordered, IReadOnlyDictionary<string, object?>? attributes)
    {
        if (ordered)
        {
            WriteGlobal(new PyGlobal("collections", "OrderedDict"));
            _out.Write((byte)')');
            _out.Write((byte)'R');
        }
        else
        {
            _out.Write((byte)'}');
        }
        var entries = new List<DictionaryEntry>(dict.Count);
        for (var e = dict.GetEnumerator(); e.MoveNext();) entries.Add(e.Entry);
        foreach (var batch in entries.Chunk(1000))
        {
            _out.Write((byte)'(');
            foreach (var entry in batch)
            {
                Write(entry.Key);
                Write(entry.Value);
            }
            _out.Write((byte)'u');
        }
        if (attributes is { Count: > 0 }) WriteBuild(attributes);
    }

    void WriteBuild(IReadOnlyDictionary<string, object?> state)
    {
        _out.Write((byte)'}');
        _out.Write((byte)'(');
        foreach (var (k, v) in state)
        {
            WriteString(k);
            Write(v);
        }
        _out.Write((byte)'u');
        _out.Write((byte)'b');
    }
}
