using System.Text.Json;
using Loom.Server.Protocol;

namespace Loom.Server.Tests;

/// <summary>How request messages with tool calls and tool results reach the template.</summary>
public class MessageReaderTests
{
    [Fact]
    public void Tool_turns_get_the_called_function_name_and_calls_keep_their_arguments()
    {
        var req = JsonSerializer.Deserialize("""
            {"messages": [
              {"role": "developer", "content": "be brief"},
              {"role": "user", "content": "Weather in Paris?"},
              {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]},
              {"role": "tool", "tool_call_id": "call_2", "content": "noon"},
              {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "21 C"}]}
            ]}
            """, Loom.Server.Protocol.Json.Context.ChatCompletionRequest)!;
        var m = MessageReader.Messages(req.Messages);
        Assert.Equal("system", m[0].Role);
        Assert.Equal("", m[2].Content);
        Assert.Equal(["get_weather", "get_time"], m[2].ToolCalls!.Select(c => c.Name));
        Assert.Equal("{\"city\": \"Paris\"}", m[2].ToolCalls![0].Arguments);
        Assert.Equal(("call_2", "get_time", "noon"), (m[3].ToolCallId, m[3].Name, m[3].Content));
        Assert.Equal(("call_1", "get_weather", "21 C"), (m[4].ToolCallId, m[4].Name, m[4].Content));
        Assert.Null(m[1].ToolCalls);
    }
}
