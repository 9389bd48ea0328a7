using System.Text.Json;
using Json.Schema;
using Loom.Server.Tools;

namespace Loom.Server.Tests;

/// <summary>
/// The schema a forced tool choice hands the constraint engine: JSON it accepts must parse (in the bare JSON
/// format) into the call it describes, and a wrong name, wrong arguments or a missing field must be refused.
/// </summary>
public class ToolConstraintTests
{
    private static readonly ToolDefinition Weather = new("get_weather", "Get the current weather",
        JsonDocument.Parse(ToolCallingModel.WeatherParameters).RootElement, true);
    private static readonly ToolDefinition Time = new("get_time", null, null, false);

    private static ToolPlan Plan(ToolChoice choice, bool parallel) => ToolPlan.Create([Weather, Time], choice, parallel, ToolCallFormat.Hermes)!;

    private static bool Accepts(ToolPlan plan, string json)
    {
        var schema = JsonSchema.FromText(ToolConstraint.Schema(plan)!.ToJsonString());
        return schema.Evaluate(JsonDocument.Parse(json).RootElement).IsValid;
    }

    [Theory]
    [InlineData("""{"name": "get_weather", "arguments": {"city": "Paris"}}""", true)]
    [InlineData("""{"arguments": {"city": "Paris"}, "name": "get_weather"}""", true)]
    [InlineData("""{"name": "get_time", "arguments": {"city": "Paris"}}""", false)]
    [InlineData("""{"name": "get_weather", "arguments": {}}""", false)]
    [InlineData("""{"name": "get_weather", "arguments": {"city": 3}}""", false)]
    [InlineData("""{"name": "get_weather"}""", false)]
    [InlineData("""{"name": "get_weather", "arguments": {"city": "Paris"}, "extra": 1}""", false)]
    public void A_named_function_fixes_the_name_and_the_arguments(string json, bool valid)
    {
        var plan = Plan(ToolChoice.Function("get_weather"), parallel: true);
        Assert.Equal(valid, Accepts(plan, json));
        if (!valid) return;
        var call = Assert.Single(ParsedToolCalls.Parse(ToolCallFormat.Json, json, () => "id").Calls);
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("Paris", JsonDocument.Parse(call.Arguments).RootElement.GetProperty("city").GetString());
    }

    [Theory]
    [InlineData("""[{"name": "get_time", "arguments": {}}, {"name": "get_weather", "arguments": {"city": "Oslo"}}]""", true, true)]
    [InlineData("""[]""", true, false)]
    [InlineData("""[{"name": "get_time", "arguments": {"x": 1}}]""", true, false)]
    [InlineData("""{"name": "get_time", "arguments": {}}""", false, true)]
    [InlineData("""{"name": "nope", "arguments": {}}""", false, false)]
    [InlineData("""[{"name": "get_time", "arguments": {}}]""", false, false)]
    public void Required_takes_any_tool_and_an_array_when_parallel(string json, bool parallel, bool valid)
    {
        var plan = Plan(ToolChoice.Required, parallel);
        Assert.Equal(valid, Accepts(plan, json));
        if (valid) Assert.NotEmpty(ParsedToolCalls.Parse(ToolCallFormat.Json, json, () => "id").Calls);
    }

    [Fact]
    public void Auto_and_none_ask_for_no_constraint()
    {
        Assert.Null(ToolConstraint.Schema(Plan(ToolChoice.Auto, true)));
        Assert.Null(ToolConstraint.Schema(Plan(ToolChoice.None, true)));
    }

    [Fact]
    public void Tool_choice_none_hides_the_tools_from_the_template_and_reads_no_calls()
    {
        var none = Plan(ToolChoice.None, true);
        Assert.Null(none.TemplateTools);
        Assert.False(none.ParsesCalls);
        Assert.Equal(2, Plan(ToolChoice.Auto, true).TemplateTools!.Count);
    }

    [Fact]
    public void A_constrained_plan_reads_the_bare_json_and_needs_no_special_tokens()
    {
        var plan = ToolPlan.Create([Weather], ToolChoice.Required, true, ToolCallFormat.Mistral)!;
        Assert.True(plan.KeepsSpecialTokens);
        var constrained = plan with { Constrained = true };
        Assert.False(constrained.KeepsSpecialTokens);
        var parser = constrained.NewParser();
        var events = new List<ToolCallEvent>();
        parser.Add("""[{"name": "get_weather", "arguments": {"city": "Oslo"}}]""", events);
        parser.Finish(events);
        var parsed = new ParsedToolCalls();
        parsed.AddRange(events);
        var call = Assert.Single(parsed.Calls);
        Assert.Equal(("get_weather", """{"city": "Oslo"}"""), (call.Name, call.Arguments));
        Assert.Matches("^[A-Za-z0-9]{9}$", call.Id); // ids still follow the template's rule
    }
}
