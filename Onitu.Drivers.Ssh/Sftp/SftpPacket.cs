using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Onitu.Drivers.Ssh.Sftp;

/// <summary>
/// Builds one packet: uint32 length, byte type, then the body (big-endian, strings length-prefixed). The buffer is
/// rented from the shared pool: whoever sends the finished packet calls <see cref="Release"/> once it is written
/// (a packet never released is merely collected).
/// </summary>
internal sealed class SftpPacketBuilder
{
    private byte[] _buffer;
    private int _length;

    public SftpPacketBuilder(SftpPacketType type, int capacity = 256)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(capacity, 16));
        _length = 4; // the length, written by Finish
        WriteByte((byte)type);
    }

    public void WriteByte(byte value)
    {
        Ensure(1);
        _buffer[_length++] = value;
    }

    public void WriteUInt32(uint value)
    {
        Ensure(4);
        BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(_length), value);
        _length += 4;
    }

    public void WriteUInt64(ulong value)
    {
        Ensure(8);
        BinaryPrimitives.WriteUInt64BigEndian(_buffer.AsSpan(_length), value);
        _length += 8;
    }

    public void WriteString(string value)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        WriteUInt32((uint)length);
        Ensure(length);
        _length += Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_length));
    }

    public void WriteBytes(ReadOnlySpan<byte> value)
    {
        WriteUInt32((uint)value.Length);
        Ensure(value.Length);
        value.CopyTo(_buffer.AsSpan(_length));
        _length += value.Length;
    }

    /// <summary>The framed packet, its length field filled in.</summary>
    public ReadOnlyMemory<byte> Finish()
    {
        BinaryPrimitives.WriteUInt32BigEndian(_buffer, (uint)(_length - 4));
        return _buffer.AsMemory(0, _length);
    }

    /// <summary>Gives the buffer back to the pool; the packet must not be used afterwards.</summary>
    public void Release()
    {
        var buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0) ArrayPool<byte>.Shared.Return(buffer);
    }

    private void Ensure(int more)
    {
        if (_length + more <= _buffer.Length) return;
        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + more));
        _buffer.AsSpan(0, _length).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = larger;
    }
}

/// <summary>Reads the body of one received packet (after the length and type).</summary>
internal ref struct SftpPacketReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _position;

    public SftpPacketReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _position = 0;
    }

    public readonly int Remaining => _data.Length - _position;

    public byte ReadByte()
    {
        Need(1);
        return _data[_position++];
    }

    public uint ReadUInt32()
    {
        Need(4);
        var value = BinaryPrimitives.ReadUInt32BigEndian(_data[_position..]);
        _position += 4;
        return value;
    }

    public ulong ReadUInt64()
    {
        Need(8);
        var value = BinaryPrimitives.ReadUInt64BigEndian(_data[_position..]);
        _position += 8;
        return value;
    }

    public ReadOnlySpan<byte> ReadBytes()
    {
        var length = ReadUInt32();
        if (length > int.MaxValue) throw Malformed();
        Need((int)length);
        var value = _data.Slice(_position, (int)length);
        _position += (int)length;
        return value;
    }

    public string ReadString() => Encoding.UTF8.GetString(ReadBytes());

    private readonly void Need(int count)
    {
        if (count < 0 || _position + count > _data.Length) throw Malformed();
    }

    private static ServiceException Malformed() =>
        new("The SFTP server sent a malformed packet (truncated field).", isTransient: true);
}
