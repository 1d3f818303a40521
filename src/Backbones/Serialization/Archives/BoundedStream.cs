namespace Backbones.Serialization.Archives;

/// <summary>
/// A read-only window of <c>length</c> bytes of a stream, starting at its current position, so a reader cannot
/// run past its member. Seekable within the window when the inner stream is.
/// </summary>
internal sealed class BoundedStream : Stream
{
    readonly Stream _inner;
    readonly long _start;
    readonly long _length;
    readonly bool _leaveOpen;
    long _position;

    public BoundedStream(Stream inner, long length, bool leaveOpen = false)
    {
        _inner = inner;
        _start = inner.CanSeek ? inner.Position : 0;
        _length = length;
        _leaveOpen = leaveOpen;
    }

    public override bool CanRead => true;
    public override bool CanSeek => _inner.CanSeek;
    public override bool CanWrite => false;
    public override long Length => _length;

    public override long Position
    {
        get => _position;
        set
        {
            if (value < 0 || value > _length) throw new ArgumentOutOfRangeException(nameof(value));
            _inner.Position = _start + value;
            _position = value;
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        long remaining = _length - _position;
        if (remaining <= 0) return 0;
        int n = _inner.Read(buffer[..(int)Math.Min(buffer.Length, remaining)]);
        _position += n;
        return n;
    }

    public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => _position + offset,
        _ => _length + offset,
    };

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_leaveOpen) _inner.Dispose();
        base.Dispose(disposing);
    }
}
