using System.Runtime.InteropServices;

namespace Loom.Core.Tensors;

/// <summary>64-byte aligned native memory, for weights that had to be converted at load (and activations).</summary>
public sealed unsafe class NativeBuffer : IDisposable
{
    private void* _ptr;

    public NativeBuffer(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        _ptr = NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 1), 64);
        NativeMemory.Clear(_ptr, (nuint)Math.Max(bytes, 1));
        Length = bytes;
    }

    public long Length { get; }
    public nint Pointer => (nint)_ptr;

    public Span<T> AsSpan<T>() where T : unmanaged => new(_ptr, checked((int)(Length / sizeof(T))));

    public void Dispose()
    {
        if (_ptr != null) { NativeMemory.AlignedFree(_ptr); _ptr = null; }
    }
}
