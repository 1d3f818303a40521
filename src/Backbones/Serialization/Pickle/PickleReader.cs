using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;

namespace Backbones.Serialization.Pickle;

/// <summary>
/// What a pickle may reach outside plain data: globals, persistent ids (storages), calls and BUILD.
/// The reader itself never looks anything up; every such step goes through this allow-list.
/// </summary>
internal interface IPickleResolver
{
    /// <summary>Returns the value for an allowed global, or throws <see cref="UnsafePickleException"/>.</summary>
    object ResolveGlobal(string module, string name, string where);

    object? PersistentLoad(object? id, string where);

    /// <summary>REDUCE and NEWOBJ: <paramref name="callable"/> is a value <see cref="ResolveGlobal"/> returned.</summary>
    object? Call(object? callable, object?[] args, string where);

    /// <summary>BUILD: applies <paramref name="state"/> to <paramref name="target"/>, returns what replaces it.</summary>
    object? Build(object? target, object? state, string where);
}

/// <summary>
/// Reads one pickle (protocols 0-5, the opcodes torch.save and Python's pickle emit for data) into .NET values:
/// None→null, bool, int→long or BigInteger, float→double, str→string, bytes→byte[], tuple→object?[],
/// list→List&lt;object?&gt;, dict→<see cref="PyDict"/>, set→HashSet&lt;object?&gt;. It executes nothing.
/// </summary>
internal sealed class PickleReader
{
    readonly Stream _stream;
    readonly string _file;
    readonly string _entry;
    readonly IPickleResolver _resolver;
    readonly PickleLimits _limits;
    readonly long _budget;
    readonly long _start;
    long _opcodeAt;

    readonly List<object?> _stack = new();
    readonly Stack<int> _marks = new();
    readonly Dictionary<long, object?> _memo = new();

    static readonly object MarkObject = new();

    /// <param name="available">Bytes the stream may still hold for this pickle (the rest of the file or member).</param>
    public PickleReader(Stream stream, string file, string entry, IPickleResolver resolver, PickleLimits limits, long available)
    {
        _stream = stream;
        _file = file;
        _entry = entry;
        _resolver = resolver;
        _limits = limits;
        _budget = Math.Min(limits.MaxPickleBytes, available);
        _start = stream.Position;
    }

    long Consumed => _stream.Position - _start;

    string Where => $"{_entry} (pickle offset {_opcodeAt})";

    CheckpointFormatException Error(string problem, Exception? inner = null) => new(_file, Where, problem, inner);

    public object? Load()
    {
        while (true)
        {
            _opcodeAt = Consumed;
            byte op = ReadByte();
            switch (op)
            {
                case (byte)'\x80': // PROTO
                    byte proto = ReadByte();
                    if (proto > 5) throw Error($"unsupported pickle protocol {proto}");
                    break;
                case (byte)'\x95': // FRAME: a length hint only
                    ReadBytes(8);
                    break;
                case (byte)'.': // STOP
                    if (_stack.Count != 1 || _marks.Count != 0) throw Error("pickle ended with a malformed stack");
                    return _stack[0];

                case (byte)'(': _marks.Push(_stack.Count); break; // MARK
                case (byte)'0': Pop(); break; // POP
                case (byte)'1': PopMark(); break; // POP_MARK
                case (byte)'2': Push(Peek()); break; // DUP

                case (byte)'N': Push(null); break;
                case (byte)'\x88': Push(true); break;
                case (byte)'\x89': Push(false); break;
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))); break; // BININT
                case (byte)'K': Push((long)ReadByte()); break; // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2))); break; // BININT2
                case (byte)'\x8a': Push(ReadLong(ReadByte())); break; // LONG1
                case (byte)'\x8b': Push(ReadLong(ReadLength(4))); break; // LONG4
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8))); break; // BINFLOAT
                case (byte)'I': Push(ParseTextInt(ReadLine())); break; // INT
                case (byte)'L': Push(ParseTextLong(ReadLine())); break; // LONG
                case (byte)'F': Push(ParseTextFloat(ReadLine())); break; // FLOAT

                case (byte)'X': Push(Utf8(ReadBytes(ReadLength(4)))); break; // BINUNICODE
                case (byte)'\x8c': Push(Utf8(ReadBytes(ReadByte()))); break; // SHORT_BINUNICODE
                case (byte)'\x8d': Push(Utf8(ReadBytes(ReadLength(8)))); break; // BINUNICODE8
                case (byte)'V': Push(ReadLine()); break; // UNICODE (raw-unicode-escape; ASCII in practice)
                // Python 2 str: torch.load decodes these as text
                case (byte)'T': Push(Latin1(ReadBytes(ReadLength(4)))); break; // BINSTRING
                case (byte)'U': Push(Latin1(ReadBytes(ReadByte()))); break; // SHORT_BINSTRING
                case (byte)'S': Push(UnquoteTextString(ReadLine())); break; // STRING
                case (byte)'B': Push(ReadBytes(ReadLength(4))); break; // BINBYTES
                case (byte)'C': Push(ReadBytes(ReadByte())); break; // SHORT_BINBYTES
                case (byte)'\x8e': Push(ReadBytes(ReadLength(8))); break; // BINBYTES8
                case (byte)'\x96': Push(ReadBytes(ReadLength(8))); break; // BYTEARRAY8

                case (byte)')': Push(Array.Empty<object?>()); break; // EMPTY_TUPLE
                case (byte)'t': Push(PopMark().ToArray()); break; // TUPLE
                case (byte)'\x85': Push(new[] { Pop() }); break; // TUPLE1
                case (byte)'\x86': { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; } // TUPLE2
                case (byte)'\x87': { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; } // TUPLE3
                case (byte)']': Push(new List<object?>()); break; // EMPTY_LIST
                case (byte)'l': Push(PopMark()); break; // LIST
                case (byte)'a': { var item = Pop(); AsList(Peek()).Add(item); break; } // APPEND
                case (byte)'e': { var items = PopMark(); AsList(Peek()).AddRange(items); break; } // APPENDS
                case (byte)'}': Push(new PyDict()); break; // EMPTY_DICT
                case (byte)'d': { var items = PopMark(); var dict = new PyDict(); SetItems(dict, items); Push(dict); break; } // DICT
                case (byte)'s': { var v = Pop(); var k = Pop(); SetItems(Peek(), [k, v]); break; } // SETITEM
                case (byte)'u': { var items = PopMark(); SetItems(Peek(), items); break; } // SETITEMS
                case (byte)'\x8f': Push(new HashSet<object?>()); break; // EMPTY_SET
                case (byte)'\x90': { var items = PopMark(); AddToSet(Peek(), items); break; } // ADDITEMS
                case (byte)'\x91': { var set = new HashSet<object?>(); AddToSet(set, PopMark()); Push(set); break; } // FROZENSET

                case (byte)'h': Push(MemoGet(ReadByte())); break; // BINGET
                case (byte)'j': Push(MemoGet(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)))); break; // LONG_BINGET
                case (byte)'g': Push(MemoGet(ParseTextInt(ReadLine()))); break; // GET
                case (byte)'q': _memo[ReadByte()] = Peek(); break; // BINPUT
                case (byte)'r': _memo[BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4))] = Peek(); break; // LONG_BINPUT
                case (byte)'p': _memo[ParseTextInt(ReadLine())] = Peek(); break; // PUT
                case (byte)'\x94': _memo[_memo.Count] = Peek(); break; // MEMOIZE

                case (byte)'c': // GLOBAL
                {
                    string module = ReadLine();
                    string name = ReadLine();
                    Push(_resolver.ResolveGlobal(module, name, Where));
                    break;
                }
                case (byte)'\x93': // STACK_GLOBAL
                {
                    var name = Pop() as string ?? throw Error("STACK_GLOBAL needs a string name");
                    var module = Pop() as string ?? throw Error("STACK_GLOBAL needs a string module");
                    Push(_resolver.ResolveGlobal(module, name, Where));
                    break;
                }
                case (byte)'R': // REDUCE
                {
                    var args = Pop() as object?[] ?? throw Error("REDUCE needs a tuple of arguments");
                    var callable = Pop();
                    Push(_resolver.Call(callable, args, Where));
                    break;
                }
                case (byte)'\x81': // NEWOBJ
                {
                    var args = Pop() as object?[] ?? throw Error("NEWOBJ needs a tuple of arguments");
                    var cls = Pop();
                    Push(_resolver.Call(cls, args, Where));
                    break;
                }
                case (byte)'\x92': // NEWOBJ_EX
                {
                    var kwargs = Pop() as PyDict;
                    var args = Pop() as object?[] ?? throw Error("NEWOBJ_EX needs a tuple of arguments");
                    var cls = Pop();
                    if (kwargs is { Count: > 0 }) throw Error("keyword arguments to a constructor are not supported");
                    Push(_resolver.Call(cls, args, Where));
                    break;
                }
                case (byte)'b': // BUILD
                {
                    var state = Pop();
                    var target = Pop();
                    var built = _resolver.Build(target, state, Where);
                    Push(built);
                    if (!ReferenceEquals(built, target)) ReplaceInMemo(target, built);
                    break;
                }
                case (byte)'Q': Push(_resolver.PersistentLoad(Pop(), Where)); break; // BINPERSID
                case (byte)'P': Push(_resolver.PersistentLoad(ReadLine(), Where)); break; // PERSID

                case (byte)'i': // INST
                case (byte)'o': // OBJ
                    throw Error($"opcode '{(char)op}' builds arbitrary class instances; refused");
                case (byte)'\x82': case (byte)'\x83': case (byte)'\x84': // EXT1/2/4
                    throw Error("extension-registry opcodes are refused");
                case (byte)'\x97': case (byte)'\x98': // NEXT_BUFFER, READONLY_BUFFER
                    throw Error("out-of-band buffers are not supported");
                default:
                    throw Error($"unknown pickle opcode 0x{op:x2}");
            }
        }
    }

    void Push(object? value)
    {
        _stack.Add(value);
    }

    object? Pop()
    {
        int floor = _marks.Count > 0 ? _marks.Peek() : 0;
        if (_stack.Count <= floor) throw Error("pickle stack underflow");
        var top = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return top;
    }

    object? Peek()
    {
        int floor = _marks.Count > 0 ? _marks.Peek() : 0;
        if (_stack.Count <= floor) throw Error("pickle stack underflow");
        return _stack[^1];
    }

    List<object?> PopMark()
    {
        if (_marks.Count == 0) throw Error("pickle has no MARK to pop to");
        int mark = _marks.Pop();
        var items = _stack.GetRange(mark, _stack.Count - mark);
        _stack.RemoveRange(mark, _stack.Count - mark);
        return items;
    }

    List<object?> AsList(object? target) => target as List<object?> ?? throw Error("APPEND on something that is not a list");

    void SetItems(object? target, List<object?> items)
    {
        if (target is not PyDict dict) throw Error("SETITEM on something that is not a dict");
        if (items.Count % 2 != 0) throw Error("SETITEMS with an odd number of items");
        for (int i = 0; i < items.Count; i += 2)
            dict[items[i] ?? throw Error("a dict key is None; not supported")] = items[i + 1];
    }

    void AddToSet(object? target, List<object?> items)
    {
        if (target is not HashSet<object?> set) throw Error("ADDITEMS on something that is not a set");
        foreach (var item in items) set.Add(item);
    }

    object? MemoGet(long index) =>
        _memo.TryGetValue(index, out var value) ? value : throw Error($"memo entry {index} read before it was written");

    void ReplaceInMemo(object? old, object? replacement)
    {
        if (old is null) return;
        foreach (var key in _memo.Where(kv => ReferenceEquals(kv.Value, old)).Select(kv => kv.Key).ToList())
            _memo[key] = replacement;
    }

    byte ReadByte()
    {
        Charge(1);
        int b = _stream.ReadByte();
        if (b < 0) throw Error("truncated: the pickle ends before its STOP opcode");
        return (byte)b;
    }

    byte[] ReadBytes(long count)
    {
        Charge(count);
        var buffer = new byte[count];
        try
        {
            _stream.ReadExactly(buffer);
        }
        catch (EndOfStreamException e)
        {
            throw Error($"truncated: needed {count} more bytes", e);
        }
        return buffer;
    }

    /// <summary>A length field, checked against what the pickle may still hold before anything is allocated.</summary>
    long ReadLength(int width)
    {
        var raw = ReadBytes(width);
        ulong length = width == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(raw) : BinaryPrimitives.ReadUInt64LittleEndian(raw);
        if (length > (ulong)(_budget - Consumed))
            throw Error($"declares {length} bytes, more than the {_budget - Consumed} left in the pickle");
        return (long)length;
    }

    void Charge(long count)
    {
        if (count < 0 || Consumed + count > _budget)
            throw Error(_budget == _limits.MaxPickleBytes
                ? $"pickle larger than the {_limits.MaxPickleBytes}-byte limit"
                : "truncated: the pickle runs past the end of its data");
    }

    string ReadLine()
    {
        var bytes = new List<byte>();
        while (true)
        {
            byte b = ReadByte();
            if (b == (byte)'\n') break;
            if (bytes.Count >= 64 * 1024) throw Error("text line longer than 64 KiB");
            bytes.Add(b);
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    object ReadLong(long length)
    {
        if (length > _limits.MaxLongBytes) throw Error($"integer of {length} bytes exceeds the {_limits.MaxLongBytes}-byte limit");
        var bytes = ReadBytes(length);
        var value = new BigInteger(bytes, isUnsigned: false, isBigEndian: false);
        return value >= long.MinValue && value <= long.MaxValue ? (object)(long)value : value;
    }

    long ParseTextInt(string text)
    {
        if (text == "00") return 0; // protocol 0 spelling of False
        if (text == "01") return 1; // and of True
        return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v)
            ? v : throw Error($"bad integer literal '{Truncate(text)}'");
    }

    object ParseTextLong(string text)
    {
        var digits = text.EndsWith('L') ? text[..^1] : text;
        if (digits.Length > _limits.MaxLongBytes * 3) throw Error("integer literal too long");
        return BigInteger.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v)
            ? (v >= long.MinValue && v <= long.MaxValue ? (object)(long)v : v)
            : throw Error($"bad long literal '{Truncate(text)}'");
    }

    double ParseTextFloat(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)
            ? v : throw Error($"bad float literal '{Truncate(text)}'");

    string UnquoteTextString(string text)
    {
        if (text.Length >= 2 && (text[0] == '\'' || text[0] == '"') && text[^1] == text[0]) return text[1..^1];
        throw Error($"bad string literal '{Truncate(text)}'");
    }

    string Utf8(byte[] bytes)
    {
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw Error("string is not valid UTF-8", e);
        }
    }

    static string Latin1(byte[] bytes) => Encoding.Latin1.GetString(bytes);

    static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "...";
}
