using Loom.Core.Tensors;

namespace Loom.Models.Quantize;

/// <summary>How <see cref="ModelQuantizer"/> converts a model.</summary>
public sealed record ModelQuantizeOptions
{
    /// <summary>The target mix, e.g. <see cref="LlamaFileType.Q4_K_M"/>.</summary>
    public required LlamaFileType FileType { get; init; }
    /// <summary>Give every quantized tensor the default type, without the mix rules (llama-quantize's <c>--pure</c>).</summary>
    public bool Pure { get; init; }
    /// <summary>Allow converting tensors that are already quantized (quality suffers; llama-quantize's <c>--allow-requantize</c>).</summary>
    public bool AllowRequantize { get; init; }
    /// <summary>Threads converting rows; null means all cores.</summary>
    public int? Threads { get; init; }
}

/// <summary>One tensor of a quantized model: its name, input and output types and sizes.</summary>
public sealed record QuantizedTensor(string Name, long[] Shape, GgmlType From, GgmlType To, long BytesIn, long BytesOut);
