namespace Loom.Engine.Structured;

/// <summary>
/// A grammar compiled to a pushdown automaton over bytes: every rule is a deterministic automaton whose edges are byte
/// classes or references to other rules, and the states of all rules are numbered together as positions. Immutable
/// once built, and shared by every sequence that uses the constraint.
/// </summary>
internal sealed class ByteGrammar
{
    /// <summary>Byte → its class: bytes of one class go to the same place from every position.</summary>
    public readonly byte[] ClassOf = new byte[256];
    public int ClassCount;
    /// <summary>Next position by position × class, -1 when the byte is not allowed.</summary>
    public int[] Next = [];
    /// <summary>Per position: whether any byte leaves it.</summary>
    public bool[] HasBytes = [];
    /// <summary>Per position: whether its rule may end here.</summary>
    public bool[] IsFinal = [];
    /// <summary>Per position: the rule it belongs to.</summary>
    public int[] RuleOf = [];
    /// <summary>Rule references leaving position p: indexes RefStart[p]..RefStart[p+1] into RefRule/RefTarget.</summary>
    public int[] RefStart = [];
    public int[] RefRule = [];
    public int[] RefTarget = [];
    /// <summary>Per rule: its start position.</summary>
    public int[] RuleStart = [];
    public string[] RuleNames = [];
    /// <summary>Per rule: the positions its callers continue at once it ends (the targets of references to it).</summary>
    public int[][] ReturnSites = [];
    public int RootRule;
    /// <summary>Per position: bytes leave it, and it neither refers to a rule nor ends one (a byte into it needs no stack work).</summary>
    public bool[] IsSimple = [];

    public int PositionCount => HasBytes.Length;

    /// <summary>The position reached from <paramref name="position"/> on <paramref name="b"/>, or -1.</summary>
    public int Step(int position, byte b) => Next[position * ClassCount + ClassOf[b]];
}
