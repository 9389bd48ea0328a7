using System.Text.Encodings.Web;
using System.Text.Json;

namespace Loom.Server.Protocol;

/// <summary>
/// The JSON contract used on the wire: <see cref="LoomJsonContext"/> with relaxed escaping, so text (quotes,
/// apostrophes, non-ASCII) reads as written instead of as \u escapes. Still valid JSON for any client.
/// </summary>
internal static class Json
{
    // The same settings as the context's attribute; a copy of Default.Options would already be bound to Default.
    public static readonly LoomJsonContext Context = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
