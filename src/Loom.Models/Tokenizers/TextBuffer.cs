namespace Loom.Models.Tokenizers;

/// <summary>
/// Text that only grows. What was written is never changed and never moves within the array it was written to, so
/// a <see cref="ReadOnlyMemory{T}"/> slice handed to another thread stays valid while later text is appended: growing
/// moves on to a larger array and leaves the old one as it was. Streaming text this way allocates nothing per token.
/// </summary>
public sealed class TextBuffer(int capacity = 64)
{
    private char[] _chars = new char[Math.Max(capacity, 16)];

    public int Length { get; private set; }

    /// <summary>Room for at least <paramref name="count"/> more characters, to be committed with <see cref="Advance"/>.</summary>
    public Span<char> GetSpan(int count)
    {
        if (Length + count > _chars.Length)
        {
            var larger = new char[Math.Max(_chars.Length * 2, Length + count)];
            _chars.AsSpan(0, Length).CopyTo(larger);
            _chars = larger;
        }
        return _chars.AsSpan(Length, count);
    }

    public void Advance(int count) => Length += count;

    /// <summary>The characters from <paramref name="start"/> to the end, to read on this thread.</summary>
    public ReadOnlySpan<char> From(int start) => _chars.AsSpan(start, Length - start);

    /// <summary>A view of written characters that later appends never disturb.</summary>
    public ReadOnlyMemory<char> Slice(int start, int length) => _chars.AsMemory(start, length);

    /// <summary>Starts over in the same array: only for a buffer whose slices nobody holds any more.</summary>
    public void Clear() => Length = 0;

    public override string ToString() => new(_chars, 0, Length);
}
