namespace Loom.Models.Tokenizers;

/// <summary>What a loader read from a file, before <see cref="Tokenizer"/> derives caches from it. -1 marks an absent id.</summary>
internal sealed class VocabSpec
{
    public required string Source { get; init; }
    public required TokenizerKind Kind { get; init; }
    public required string[] Tokens { get; init; }
    public required float[] Scores { get; init; }
    public required TokenAttributes[] Attributes { get; init; }
    public (string Left, string Right)[] Merges { get; init; } = [];
    public string Pre { get; set; } = "default";
    public string ModelName { get; set; } = "";

    public int Bos { get; set; } = -1;
    public int Eos { get; set; } = -1;
    public int Unk { get; set; } = -1;
    public int Sep { get; set; } = -1;
    public int Pad { get; set; } = -1;
    public int Eot { get; set; } = -1;
    public int Eom { get; set; } = -1;
    public int FimPre { get; set; } = -1;
    public int FimSuf { get; set; } = -1;
    public int FimMid { get; set; } = -1;
    public int FimPad { get; set; } = -1;
    public int FimRep { get; set; } = -1;
    public int FimSep { get; set; } = -1;

    public bool AddBos { get; set; }
    public bool AddEos { get; set; }
    public bool AddSpacePrefix { get; set; }
    public bool CleanSpaces { get; set; }
    public bool IgnoreMerges { get; set; }
    public string? ChatTemplate { get; set; }

    /// <summary>llama.cpp's defaults for a model type and pre-tokenizer; metadata read afterwards overrides them.</summary>
    public void ApplyDefaults()
    {
        switch (Kind)
        {
            case TokenizerKind.Spm:
                Bos = 1; Eos = 2; Unk = 0;
                AddSpacePrefix = true; CleanSpaces = false; AddBos = true; AddEos = false;
                break;
            case TokenizerKind.Wpm:
                Bos = 101; Unk = 100; Sep = 102; Pad = 0;
                AddSpacePrefix = false; CleanSpaces = true; AddBos = true; AddEos = false;
                break;
            case TokenizerKind.Bpe:
                Bos = 11; Eos = 11;
                AddSpacePrefix = false; CleanSpaces = true;
                switch (Pre)
                {
                    case "llama3" or "llama-v3" or "llama-bpe" or "falcon3": IgnoreMerges = true; AddBos = true; break;
                    case "deepseek-llm" or "deepseek-coder" or "deepseek-v3" or "command-r" or "qwen2" or "deepseek-r1-qwen"
                        or "poro-chat" or "viking" or "smollm":
                        CleanSpaces = false; break;
                    case "chatglm-bpe": Bos = -1; break;
                    case "tekken": CleanSpaces = false; IgnoreMerges = true; AddBos = true; break;
                    case "chameleon": AddBos = true; CleanSpaces = false; break;
                }
                break;
        }
    }
}
