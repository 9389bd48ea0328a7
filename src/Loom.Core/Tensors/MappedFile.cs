using System.IO.MemoryMappedFiles;

namespace Loom.Core.Tensors;

/// <summary>
/// A whole file mapped read-only into memory. Pages load on first touch, so opening a large model
/// costs almost nothing and never copies the weights into the managed heap.
/// </summary>
public sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private byte* _ptr;

    public MappedFile(string path)
    {
        Path = path;
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        Length = fs.Length;
        if (Length == 0) return;
        _map = MemoryMappedFile.CreateFromFile(fs, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
        _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref _ptr);
        _ptr += _view.PointerOffset;
    }

    public string Path { get; }
    public long Length { get; }
    public nint Pointer => (nint)_ptr;

    /// <summary>A span over <paramref name="length"/> bytes at <paramref name="offset"/> (bounds-checked).</summary>
    public ReadOnlySpan<byte> Span(long offset, int length)
    {
        if (offset < 0 || length < 0 || offset + length > Length) throw new ArgumentOutOfRangeException(nameof(offset));
        return new ReadOnlySpan<byte>(_ptr + offset, length);
    }

    public void Dispose()
    {
        if (_view != null && _ptr != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _ptr = null;
        }
        _view?.Dispose();
        _map?.Dispose();
    }
}
