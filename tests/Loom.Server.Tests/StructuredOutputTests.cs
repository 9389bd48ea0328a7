#pragma warning disable OPENAI001 // ChatCompletionOptions.Seed is marked experimental by the SDK
using System.Text;
using System.Text.Json;
using Json.Schema;
using Loom.Server.InProcess;
using Microsoft.Extensions.AI;
using OpenAI.Chat;

namespace Loom.Server.Tests;

/// <summary>
/// Structured output over HTTP: <c>response_format</c> (json_object, json_schema) on both endpoints through the
/// official SDK and raw bodies, vLLM's guided_* and llama.cpp's grammar/json_schema fields, streaming, the in-process
/// IChatClient's <see cref="ChatResponseFormat"/>, and a 400 naming the field (and the keyword) for anything the
/// constraint compiler cannot enforce. Outputs are validated with JsonSchema.Net.
/// </summary>
[Collection("server")]
public sealed class StructuredOutputTests(ServerFixture f)
{
    private SdkRaw Raw => new(f.Client(), f.ApiBase);

    private const string Schema = """
        {"type":"object","properties":{
          "name":{"type":"string","maxLength":6},
          "size":{"type":"integer","minimum":1,"maximum":40},
          "kind":{"enum":["cat","dog",null]},
          "ok":{"type":"boolean"}
        },"required":["name","size","kind","ok"],"additionalProperties":false}
        """;

    private static void AssertValid(string schema, string text)
    {
        using var doc = JsonDocument.Parse(text);
        var result = JsonSchema.FromText(schema).Evaluate(doc.RootElement);
        Assert.True(result.IsValid, $"not valid against the schema: {text}");
    }

    [Fact]
    public async Task Sdk_json_schema_response_format_gives_valid_json()
    {
        var chat = f.Client().GetChatClient(ServerFixture.ModelName);
        for (int seed = 0; seed < 6; seed++)
        {
            var options = new ChatCompletionOptions
            {
                Temperature = 1, TopP = 1, Seed = seed, MaxOutputTokenCount = 300,
                ResponseFormat = OpenAI.Chat.ChatResponseFormat.CreateJsonSchemaFormat("thing", BinaryData.FromString(Schema), jsonSchemaIsStrict: true),
            };
            var r = await chat.CompleteChatAsync([new UserChatMessage("describe a pet")], options);
            Assert.Equal(OpenAI.Chat.ChatFinishReason.Stop, r.Value.FinishReason);
            AssertValid(Schema, r.Value.Content[0].Text);
        }
    }

    [Fact]
    public async Task Streamed_deltas_concatenate_to_valid_json()
    {
        var chat = f.Client().GetChatClient(ServerFixture.ModelName);
        var options = new ChatCompletionOptions
        {
            Temperature = 1, Seed = 11, MaxOutputTokenCount = 300,
            ResponseFormat = OpenAI.Chat.ChatResponseFormat.CreateJsonSchemaFormat("thing", BinaryData.FromString(Schema)),
        };
        var text = new StringBuilder();
        await foreach (var u in chat.CompleteChatStreamingAsync([new UserChatMessage("go")], options))
            foreach (var part in u.ContentUpdate) text.Append(part.Text);
        AssertValid(Schema, text.ToString());
    }

    [Fact]
    public async Task Json_object_on_both_endpoints()
    {
        var chat = await Raw.PostAsync("chat/completions", new
        {
            messages = new[] { new { role = "user", content = "json please" } },
            response_format = new { type = "json_object" }, max_tokens = 400, seed = 3, temperature = 0.7,
        });
        Assert.Equal(200, chat.Status);
        var choice = chat.Json.GetProperty("choices")[0];
        string content = choice.GetProperty("message").GetProperty("content").GetString()!;
        Assert.StartsWith("{", content);
        if (choice.GetProperty("finish_reason").GetString() == "stop")
        {
            using var doc = JsonDocument.Parse(content);
            Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
        }
        var completion = await Raw.PostAsync("completions", new
        {
            prompt = "Data:", response_format = new { type = "json_schema", json_schema = new { name = "t", schema = JsonDocument.Parse(Schema).RootElement, strict = true } },
            max_tokens = 300, seed = 5,
        });
        Assert.Equal(200, completion.Status);
        AssertValid(Schema, completion.Json.GetProperty("choices")[0].GetProperty("text").GetString()!);
    }

    [Theory]
    [InlineData("guided_choice", "[\"red\",\"green\",\"blue\"]")]
    [InlineData("guided_regex", "\"[a-c]{2,4}-[0-9]{2}\"")]
    [InlineData("guided_grammar", "\"root ::= (\\\"x\\\" | \\\"y\\\") [0-9]{1,3} \\\";\\\"\"")]
    [InlineData("grammar", "\"root ::= \\\"yes\\\" | \\\"no\\\"\"")]
    [InlineData("guided_json", "{\"type\":\"array\",\"items\":{\"type\":\"boolean\"},\"minItems\":1,\"maxItems\":3}")]
    [InlineData("json_schema", "{\"type\":\"integer\",\"minimum\":-5,\"maximum\":500}")]
    public async Task Guided_fields_constrain_the_completion(string field, string value)
    {
        for (int seed = 0; seed < 4; seed++)
        {
            var r = await Raw.PostAsync("completions", $"{{\"prompt\":\"Answer:\",\"max_tokens\":60,\"seed\":{seed},\"{field}\":{value}}}");
            Assert.Equal(200, r.Status);
            var choice = r.Json.GetProperty("choices")[0];
            Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
            string text = choice.GetProperty("text").GetString()!;
            switch (field)
            {
                case "guided_choice": Assert.Contains(text, new[] { "red", "green", "blue" }); break;
                case "guided_regex": Assert.Matches("^[a-c]{2,4}-[0-9]{2}$", text); break;
                case "guided_grammar": Assert.Matches("^[xy][0-9]{1,3};$", text); break;
                case "grammar": Assert.Contains(text, new[] { "yes", "no" }); break;
                default: AssertValid(value, text); break;
            }
        }
    }

    [Theory]
    [InlineData("{\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{\"type\":\"integer\",\"multipleOf\":3}}}}", "response_format", "multipleOf")]
    [InlineData("{\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{\"type\":\"object\",\"patternProperties\":{}}}}}", "response_format", "patternProperties")]
    [InlineData("{\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\"}}}", "response_format", "schema")]
    [InlineData("{\"response_format\":{\"type\":\"xml\"}}", "response_format", "xml")]
    [InlineData("{\"guided_regex\":\"(a)\\\\1\"}", "guided_regex", "backreference")]
    [InlineData("{\"guided_grammar\":\"root ::= undefined-rule\"}", "guided_grammar", "undefined-rule")]
    [InlineData("{\"grammar\":\"root ::= root \\\"x\\\" | \\\"y\\\"\"}", "grammar", "left-recursive")]
    [InlineData("{\"guided_choice\":\"red\"}", "guided_choice", "list")]
    [InlineData("{\"guided_json\":{\"type\":\"string\",\"format\":\"email\"}}", "guided_json", "email")]
    [InlineData("{\"json_schema\":{\"$ref\":\"#/$defs/nope\"}}", "json_schema", "nope")]
    [InlineData("{\"guided_regex\":\"a+\",\"guided_choice\":[\"a\"]}", "guided_choice", "one output constraint")]
    public async Task Invalid_or_unsupported_constraints_are_400_naming_the_field(string fields, string param, string mentioned)
    {
        foreach (var (path, body) in new[]
        {
            ("completions", "{\"prompt\":\"x\"," + fields[1..]),
            ("chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]," + fields[1..]),
        })
        {
            var r = await Raw.PostAsync(path, body);
            Assert.Equal(400, r.Status);
            Assert.Equal(param, r.Error.GetProperty("param").GetString());
            Assert.Contains(mentioned, r.Error.GetProperty("message").GetString());
        }
    }

    [Fact]
    public async Task Chat_client_maps_response_format()
    {
        IChatClient client = new LoomChatClient(f.Engine, "tiny");
        var schema = JsonDocument.Parse(Schema).RootElement;
        var response = await client.GetResponseAsync([new(ChatRole.User, "a pet")],
            new ChatOptions { Temperature = 1, Seed = 4, MaxOutputTokens = 300, ResponseFormat = Microsoft.Extensions.AI.ChatResponseFormat.ForJsonSchema(schema, "pet") });
        AssertValid(Schema, response.Text);
        var json = await client.GetResponseAsync([new(ChatRole.User, "anything")],
            new ChatOptions { Temperature = 0.5f, Seed = 2, MaxOutputTokens = 200, ResponseFormat = Microsoft.Extensions.AI.ChatResponseFormat.Json });
        Assert.StartsWith("{", json.Text);
    }
}
