using System.Runtime.InteropServices;

namespace Loom.Core.Tensors;

/// <summary>
/// 64-byte aligned native memory, for weights that had to be converted at load (and activations). Buffers of a
/// huge page or more are aligned to one and, on Linux, marked for transparent huge pages: decode streams every
/// weight byte once per token, and with 4 KiB pages the hardware prefetchers stop at every page boundary and
/// the TLB misses on every page.
/// </summary>
public sealed unsafe partial class NativeBuffer : IDisposable
{
    private const nuint HugePage = 2 << 20;
    private const int MadvHugePage = 14;

    private void* _ptr;

    public NativeBuffer(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        nuint size = (nuint)Math.Max(bytes, 1);
        bool huge = size >= HugePage && OperatingSystem.IsLinux();
        _ptr = NativeMemory.AlignedAlloc(huge ? (size + HugePage - 1) & ~(HugePage - 1) : size, huge ? HugePage : 64);
        // Advice only: where transparent huge pages are off, nothing changes.
        if (huge) _ = Madvise(_ptr, (size + HugePage - 1) & ~(HugePage - 1), MadvHugePage);
        NativeMemory.Clear(_ptr, size);
        Length = bytes;
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);

    public long Length { get; }
    public nint Pointer => (nint)_ptr;

    public Span<T> AsSpan<T>() where T : unmanaged => new(_ptr, checked((int)(Length / sizeof(T))));

    public void Dispose()
    {
        if (_ptr != null) { NativeMemory.AlignedFree(_ptr); _ptr = null; }
    }
}
