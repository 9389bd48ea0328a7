using Loom.Core.Kernels;

namespace Loom.Core.Tests.Kernels;

public class HalfWidenTests
{
    [Fact]
    public void EveryHalfWidensExactly()
    {
        var halves = new Half[65536];
        for (int i = 0; i < halves.Length; i++) halves[i] = BitConverter.UInt16BitsToHalf((ushort)i);
        for (int i = 0; i < halves.Length; i += 16)
        {
            var v = Dot.Widen(ref halves[i]);
            for (int j = 0; j < 16; j++)
            {
                float expected = (float)halves[i + j];
                if (float.IsNaN(expected)) Assert.True(float.IsNaN(v[j]));
                else Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(v[j]));
            }
        }
    }
}
