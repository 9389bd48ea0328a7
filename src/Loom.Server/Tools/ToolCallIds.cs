using System.Security.Cryptography;

namespace Loom.Server.Tools;

/// <summary>Fresh call ids: <c>call_</c> and 24 random letters and digits, or 9 of them where Mistral's templates insist.</summary>
public static class ToolCallIds
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    public static string New(ToolCallFormat format) =>
        format.ShortIds ? Random(9) : "call_" + Random(24);

    private static string Random(int length) => new(RandomNumberGenerator.GetItems<char>(Alphabet, length));
}
